#!/usr/bin/env bash
# Runs on the GPU machine from the folder that holds the bundle (made by scripts/gpu-bundle.sh):
# the GPU test suite, the Java GPU benchmarks and the PyTorch reference timings in one call, writing
# logs under $OUT (or ./gpu-out). Usage: bash .bundle/gpu-run.sh [full|quick|gemm] (gemm: the tests, then the
# MXFP8 GEMM benchmarks and their torch references only)
set -uo pipefail
B="$(cd "$(dirname "$0")" && pwd)"
O="${OUT:-$PWD/gpu-out}"
mkdir -p "$O"
MODE="${1:-full}"
source "$B/gpu-jre.sh" # JAVA
CP="$(ls "$B"/lib/*.jar | grep -v junit-platform-console | tr '\n' ':')"
# No PyTorch natives travel: the MX engine runs GPU-only (GPU-resident arrays, no host fallbacks).
FLAGS=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx16g
  -Dai.djl.offline=true -Dai.djl.default_engine=MX -Dmx.engine.host=none -Dmx.gpu.encoderReference="$B/encoder-cpu-mx.f32")
{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv
} 2>&1 | tee "$O/device.txt"

echo "== GPU tests"
timeout "${TEST_TIMEOUT:-400}" "$JAVA" "${FLAGS[@]}" -jar "$B/lib/junit-platform-console-standalone.jar" execute \
  --class-path "$CP" --select-class io.djlmx.kernel.cuda.CudaBackendTest --select-class io.djlmx.kernel.cuda.CudaMemoryPoolTest \
  --select-class io.djlmx.kernel.cuda.CudaMxLinearTest --select-class io.djlmx.kernel.cuda.CudaTensorCoreLinearTest \
  --select-class io.djlmx.kernel.cuda.CudaCpuAgreementTest --select-class io.djlmx.engine.MxCudaNDArrayTest \
  --select-class io.djlmx.engine.MxCudaModelTest --select-class io.djlmx.zoo.bert.BertEncoderGpuTest \
  --select-class io.djlmx.attention.djl.MxAttentionGpuTest --select-class io.djlmx.engine.MxFusedOpsGpuTest \
  --select-class io.djlmx.kernel.cuda.CudaExactAttentionTest \
  --details=tree --disable-banner --disable-ansi-colors \
  --reports-dir "$O/junit" 2>&1 | tee "$O/tests.log" | grep -vE "^\s*$" | tail -60
TEST_RC=${PIPESTATUS[0]}

echo "== GPU resource tests, kernel then model level (device memory flat; figures in \$OUT/RELIABILITY-gpu.md, kept as docs/RELIABILITY-gpu.md)"
"$JAVA" "${FLAGS[@]}" -Ddjlmx.gpu.resource.report="$O/RELIABILITY-gpu.md" \
  -jar "$B/lib/junit-platform-console-standalone.jar" execute --class-path "$CP" \
  --select-class io.djlmx.kernel.cuda.CudaResourceTest --details=tree --disable-banner --disable-ansi-colors \
  --reports-dir "$O/junit-resource" 2>&1 | tee "$O/tests-resource.log" | grep -vE "^\s*$" | tail -30
RESOURCE_RC=${PIPESTATUS[0]}
if [[ $TEST_RC -eq 0 ]]; then TEST_RC=$RESOURCE_RC; fi
# Model level (integration-tests): appends its section to the same report; NMT for the host memory figures.
"$JAVA" "${FLAGS[@]}" -XX:NativeMemoryTracking=summary -Ddjlmx.gpu.resource.report="$O/RELIABILITY-gpu.md" \
  -jar "$B/lib/junit-platform-console-standalone.jar" execute --class-path "$CP" \
  --select-class io.djlmx.it.GpuModelResourceTest --details=tree --disable-banner --disable-ansi-colors \
  --reports-dir "$O/junit-model-resource" 2>&1 | tee "$O/tests-model-resource.log" | grep -vE "^\s*$" | tail -30
RESOURCE_RC=${PIPESTATUS[0]}
if [[ $TEST_RC -eq 0 ]]; then TEST_RC=$RESOURCE_RC; fi

echo "== SASS check (tensor-core instructions in the fatbin)"
FATBIN="$B/mx-kernels.fatbin"
if [[ ! -f "$FATBIN" ]]; then # not shipped loose: take it out of the engine jar
  FATBIN=/tmp/mx-kernels.fatbin
  mx_fatbin "$FATBIN" || rm -f "$FATBIN"
fi
if command -v cuobjdump >/dev/null && [[ -f "$FATBIN" ]]; then
  cuobjdump --dump-sass "$FATBIN" > /tmp/mx-sass.txt 2>&1
  grep -oE "\b(QMMA|HMMA|IMMA|QGMMA|HGMMA)[.A-Z0-9]*" /tmp/mx-sass.txt | sort | uniq -c | sed "s/^/fatbin /" | tee "$O/sass-summary.txt"
  for fn in mx_wgmma_ws_fp8_a0_b0 mx_wgmma_fp8_a0_b0 mx_gemv_f4_b1 mx_gemv_f3_b1; do
    cuobjdump --dump-sass --function "$fn" "$FATBIN" 2>/dev/null |
      grep -oE "^ +/\*[0-9a-f]{4}\*/ +[A-Z][A-Z0-9._]*" | awk '{print $2}' | sort | uniq -c | sort -rn |
      head -25 | sed "s/^/$fn /"
  done | tee -a "$O/sass-summary.txt"
fi

echo "== Java GPU benchmarks"
timeout "${BENCH_TIMEOUT:-400}" "$JAVA" "${FLAGS[@]}" -cp "$CP" io.djlmx.kernel.cuda.CudaLinearBenchmark "$MODE" 2>&1 | tee "$O/bench-java.log"
echo "== PyTorch reference"
PYTHONUNBUFFERED=1 python3 "$B/gpu_torch_ref.py" "$MODE" 2>&1 | tee "$O/bench-torch.log"
echo "== summary"
grep -h "^RESULT" "$O/bench-java.log" "$O/bench-torch.log"
grep -E "tests (successful|failed|skipped)" "$O/tests.log"
exit $TEST_RC
