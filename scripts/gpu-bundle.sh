#!/usr/bin/env bash
# Builds everything the GPU tests and benchmarks need on the lent GPU machine (which has no Java) into
# one folder, by default .bundle/ (git-ignored), under 64 MiB: a jlink'ed Java 25 runtime, mx-engine
# with its CUDA fatbin and its test classes, the model zoo with its test classes, DJL's API and
# PyTorch-engine classes (no PyTorch natives: the GPU-resident arrays run with mx.engine.host=none), JCuda
# (driver natives only), SLF4J, the JUnit console launcher, the run scripts, and the CPU MX result of
# the GPU encoder test's model (computed here, where PyTorch runs). The runtime travels as jre.tar.xz, which the
# run scripts unpack on the GPU machine; gpu-run.sh takes the fatbin for its SASS check out of mx-engine.jar.
# Usage: scripts/gpu-bundle.sh [OUT_DIR]      (JAVA_HOME must be a JDK 25; nvcc must be on the PATH)
# GPU_BUNDLE_MINILM=1: also the real all-MiniLM-L6-v2 fixture (MiniLmGpuFixture: the zoo's MXFP6 checkpoint
# with only the word-embedding rows its sentences use, their token ids, the CPU MX embeddings) and
# scripts/gpu-model-run.sh; to stay under the device's 64 MiB (checkout included) the runtime then travels as
# one xz archive (jre.tar.xz, unpacked by the run script) without java.xml and java.naming (JUnit runs without
# --reports-dir), and the second copy of the fatbin (the SASS check) stays behind.
# MX_BUNDLE_ATTENTION=1: only what gpu-attention-run.sh needs (no zoo, DJL, JNA, encoder reference or loose
# fatbin), so the bundle plus the checkout fit the device's 64 MiB.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${1:-$ROOT/.bundle}"
JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
export JAVA_HOME
M2="${MAVEN_REPO:-$HOME/.m2/repository}"
cd "$ROOT"
command -v nvcc >/dev/null || { echo "gpu-bundle: nvcc is not on the PATH: the fatbin cannot be built" >&2; exit 1; }

prop() { sed -n "s:.*<$1>\(.*\)</$1>.*:\1:p" "$ROOT/pom.xml" | head -1; }
JCUDA_VERSION="$(prop jcuda.version)"
SLF4J_VERSION="$(prop slf4j.version)"
DJL_VERSION="$(prop djl.version)"
CONSOLE_VERSION="$(prop junit.console.version)"

ATTN_ONLY="${MX_BUNDLE_ATTENTION:-0}"
mkdir -p "$ROOT/target"
if [[ "$ATTN_ONLY" == 1 ]]; then
  echo "[gpu-bundle] building mx-engine (jar + test jar)"
  ./mvnw -B -q -pl mx-engine -am package -DskipTests -Dspotless.check.skip=true
else
  echo "[gpu-bundle] building mx-engine (jar + test jar), the model zoo and the integration tests"
  # The class path is written by each module in turn; the last (integration-tests) holds everything the
  # MiniLM fixture needs (the reactor's jars, PyTorch, the tokenizer).
  ./mvnw -B -q -pl mx-engine,model-zoo,integration-tests -am package dependency:build-classpath -DskipTests \
    -Dspotless.check.skip=true -Dmdep.includeScope=test -Dmdep.outputFile="$ROOT/target/gpu-bundle-cp.txt"
fi
ENGINE_JAR="$(ls mx-engine/target/mx-engine-*[0-9T].jar | head -1)"
TESTS_JAR="$(ls mx-engine/target/mx-engine-*-tests.jar | head -1)"
unzip -l "$ENGINE_JAR" | grep mx-kernels.fatbin >/dev/null || { echo "gpu-bundle: no fatbin in $ENGINE_JAR" >&2; exit 1; }

rm -rf "$OUT"
mkdir -p "$OUT/lib"
cp "$ENGINE_JAR" "$OUT/lib/mx-engine.jar"
cp "$TESTS_JAR" "$OUT/lib/mx-engine-tests.jar"
if [[ "$ATTN_ONLY" != 1 ]]; then
ZOO_JAR="$(ls model-zoo/target/mx-model-zoo-*[0-9T].jar | head -1)"
cp "$ZOO_JAR" "$OUT/lib/mx-model-zoo.jar"
# The zoo's trained weights (tiny-lm 7.6 MB, the CNN 0.7 MB) are not used by the GPU tests: leave them out so
# the bundle stays under the device machine's 64 MiB.
zip -q -d "$OUT/lib/mx-model-zoo.jar" 'io/djlmx/zoo/tiny-lm/*.params' 'io/djlmx/zoo/fashion-mnist-cnn/*.params' >/dev/null
(cd model-zoo/target/test-classes && "$JAVA_HOME/bin/jar" cf "$OUT/lib/mx-model-zoo-tests.jar" io)
# The integration tests' GPU model-level resource test (GpuModelResourceTest) and its fixtures.
(cd integration-tests/target/test-classes && "$JAVA_HOME/bin/jar" cf "$OUT/lib/mx-integration-tests.jar" io)
# DJL's API and PyTorch-engine classes (the MX engine's types refer to them); no PyTorch natives.
cp "$M2/ai/djl/api/$DJL_VERSION/api-$DJL_VERSION.jar" "$OUT/lib/djl-api.jar"
cp "$M2/ai/djl/pytorch/pytorch-engine/$DJL_VERSION/pytorch-engine-$DJL_VERSION.jar" "$OUT/lib/djl-pytorch-engine.jar"
cp "$(ls "$M2"/com/google/code/gson/gson/2.13.1/gson-2.13.1.jar)" "$OUT/lib/gson.jar"
cp "$(ls "$M2"/net/java/dev/jna/jna/5.17.0/jna-5.17.0.jar)" "$OUT/lib/jna.jar"
fi
cp "$M2/org/jcuda/jcuda/$JCUDA_VERSION/jcuda-$JCUDA_VERSION.jar" "$OUT/lib/"
cp "$M2/org/slf4j/slf4j-api/$SLF4J_VERSION/slf4j-api-$SLF4J_VERSION.jar" "$OUT/lib/"
cp "$M2/org/slf4j/slf4j-simple/$SLF4J_VERSION/slf4j-simple-$SLF4J_VERSION.jar" "$OUT/lib/"

# JCuda natives: keep only the driver library (the others need CUDA 12 libraries the machine lacks).
NATIVES="$M2/org/jcuda/jcuda-natives/$JCUDA_VERSION/jcuda-natives-$JCUDA_VERSION-linux-x86_64.jar"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && unzip -q "$NATIVES" "lib/libJCudaDriver-*" && zip -q -r "$OUT/lib/jcuda-natives-driver-$JCUDA_VERSION.jar" lib)

CONSOLE="$M2/org/junit/platform/junit-platform-console-standalone/$CONSOLE_VERSION/junit-platform-console-standalone-$CONSOLE_VERSION.jar"
if [[ ! -f "$CONSOLE" ]]; then
  ./mvnw -B -q dependency:copy -Dartifact="org.junit.platform:junit-platform-console-standalone:$CONSOLE_VERSION" \
    -DoutputDirectory="$TMP/console"
  CONSOLE="$TMP/console/junit-platform-console-standalone-$CONSOLE_VERSION.jar"
fi
cp "$CONSOLE" "$OUT/lib/junit-platform-console-standalone.jar"

echo "[gpu-bundle] jlink runtime"
# jdk.management + jdk.jfr: Native Memory Tracking through the DiagnosticCommand MBean (host memory figures).
MODULES=java.base,java.logging,jdk.incubator.vector,jdk.unsupported,java.management,jdk.management,jdk.jfr
if [[ "${GPU_BUNDLE_MINILM:-0}" == 1 ]]; then
  # Uncompressed image, then one xz archive of it: 12 MiB instead of 40 (the run script unpacks it).
  "$JAVA_HOME/bin/jlink" --add-modules "$MODULES" --strip-debug --no-man-pages --no-header-files \
    --output "$TMP/jre" 2>&1 | grep -v "incubator" || true
  if command -v strip >/dev/null; then strip --strip-unneeded "$TMP/jre/lib/server/libjvm.so" || true; fi
  tar cf - -C "$TMP" jre | xz -9 -T2 > "$OUT/jre.tar.xz"
else
  "$JAVA_HOME/bin/jlink" --add-modules "$MODULES,java.naming,java.xml" \
    --strip-debug --no-man-pages --no-header-files --compress=zip-9 --output "$OUT/jre" 2>&1 | grep -v "incubator" || true
  if command -v strip >/dev/null; then strip --strip-unneeded "$OUT/jre/lib/server/libjvm.so" || true; fi
fi
if [[ "${GPU_BUNDLE_MINILM:-0}" != 1 ]]; then
  # The bundle plus main's tree exceeded the device's 64 MiB (the attention bundle on 2026-11-28, the full one with
  # the grown fatbin on 2026-11-29 at 70 MiB): the runtime travels as one xz archive (33 / 37 MiB bundles) that the
  # run scripts unpack in place.
  tar cf - -C "$OUT" jre | xz -6 -T2 > "$OUT/jre.tar.xz" && rm -rf "$OUT/jre"
fi

if [[ "$ATTN_ONLY" != 1 ]]; then
echo "[gpu-bundle] CPU MX result of the GPU encoder test (PyTorch, here)"
./mvnw -B -q -pl model-zoo -am test -Dtest=BertEncoderReferenceTest -Dsurefire.failIfNoSpecifiedTests=false \
  -Dspotless.check.skip=true -Dmx.gpu.writeEncoderReference="$OUT/encoder-cpu-mx.f32"
test -s "$OUT/encoder-cpu-mx.f32" || { echo "gpu-bundle: no CPU encoder reference written" >&2; exit 1; }
fi

cp scripts/gpu-jre.sh scripts/gpu-arrays-run.sh scripts/gpu-run.sh scripts/gpu-profile.sh scripts/gemmfloor-run.sh scripts/gpu_torch_ref.py scripts/gpu-attention-run.sh scripts/gpu-attention-profile.sh scripts/gpu_attention_torch_ref.py scripts/gpu-attention-djl-run.sh "$OUT/"
LIMIT=60
if [[ "${GPU_BUNDLE_MINILM:-0}" == 1 ]]; then
  echo "[gpu-bundle] all-MiniLM-L6-v2 fixture (tokenized here; checkpoint with the used vocabulary rows)"
  FIXTURE_CP="model-zoo/target/test-classes:$(cat "$ROOT/target/gpu-bundle-cp.txt")"
  "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Dai.djl.offline=true \
    -cp "$FIXTURE_CP" io.djlmx.zoo.bert.MiniLmGpuFixture "$OUT/minilm" 256 2>&1 | grep -E "MiniLM fixture|Exception|Error" || true
  test -s "$OUT/minilm/minilm-compact.mxckpt" || { echo "gpu-bundle: no MiniLM fixture written" >&2; exit 1; }
  cp scripts/gpu-run-common.sh scripts/gpu-model-run.sh scripts/minilm_torch_ref.py scripts/gputc-run.sh scripts/gputc_torch_ref.py scripts/gpufuse-run.sh \
    scripts/minilmtc-run.sh scripts/minilmtc_torch_ref.py "$OUT/"
  chmod +x "$OUT/gpu-model-run.sh"
  LIMIT=48
fi
chmod +x "$OUT/gpu-run.sh" "$OUT/gpu-attention-run.sh" "$OUT/gpu-arrays-run.sh"
du -sh "$OUT"
SIZE=$(du -sb "$OUT" | cut -f1)
if (( SIZE > LIMIT * 1024 * 1024 )); then echo "gpu-bundle: $OUT is $SIZE bytes, over the $LIMIT MiB budget" >&2; exit 1; fi
echo "[gpu-bundle] done: run 'bash $(basename "$OUT")/gpu-run.sh' from the folder above it on the GPU machine"
