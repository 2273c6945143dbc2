#!/usr/bin/env bash
# tiny-lm generation speed at batch 1 (tokens/s): PyTorch FP32 beside MX formats on the MX engine,
# in one run, into docs/bench/tinylm.md. Best on a quiet machine.
# Usage: scripts/tiny-lm-bench.sh [extra mx bench lm options, e.g. --reps 9]
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
./mvnw -B -q -pl examples -am package -DskipTests -Dspotless.check.skip=true
"$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -Dai.djl.offline=true -cp "examples/target/classes:examples/target/lib/*" \
  io.djlmx.examples.cli.MxCommand bench lm --tokens 96 --reps 7 --warmup 3 \
  --out docs/bench/tinylm.md "$@"
