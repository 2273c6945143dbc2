#!/usr/bin/env bash
# tiny-lm generation speed at batch 1 (tokens/s): PyTorch FP32 (with and without the KV cache) beside MX
# formats on the MX engine, configurations taking turns, in one run, into docs/bench/tinylm.md.
# Best on a quiet machine. Usage: [TOKENS=32] [REPS=3] [WARMUP=1] scripts/tiny-lm-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
./mvnw -B -q -pl examples -am package -DskipTests -Dspotless.check.skip=true
"$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -Dai.djl.offline=true -cp "examples/target/classes:examples/target/lib/*" \
  io.djlmx.examples.cli.MxCommand bench lm --tokens "${TOKENS:-32}" --reps "${REPS:-3}" \
  --warmup "${WARMUP:-1}" --formats MXFP8_E4M3,MXINT8,MXFP6_E2M3,MXFP4_E2M1 --out docs/bench/tinylm.md
