#!/usr/bin/env bash
# Runs on the GPU machine from the folder above the bundle (scripts/gpu-bundle.sh, MX_BUNDLE_ATTENTION=1
# is enough): the MXFP8 GEMM tests of CudaMxLinearTest (FP64 reference, odd shapes, every warp-specialised
# variant, bit-for-bit agreement of the variants), the SASS histograms of the warp-specialised kernels, the
# side-by-side rounds of WGMMA_WS and WGMMA_WS3 (CudaLinearBenchmark gemmfloor) and torch._scaled_mm in the
# same call. Logs under $OUT. Usage: bash .bundle/gemmfloor-run.sh [tests|bench|all]
set -uo pipefail
B="$(cd "$(dirname "$0")" && pwd)"
O="${OUT:-$PWD/gpu-out}"
mkdir -p "$O"
MODE="${1:-all}"
source "$B/gpu-jre.sh" # JAVA, mx_fatbin
CP="$(ls "$B"/lib/*.jar | grep -v junit-platform-console | tr '\n' ':')"
FLAGS=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx16g -Dai.djl.offline=true)
{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv
} 2>&1 | tee "$O/device.txt"
RC=0
if [[ "$MODE" != bench ]]; then
  echo "== MXFP8 GEMM tests"
  timeout "${TEST_TIMEOUT:-150}" "$JAVA" "${FLAGS[@]}" -jar "$B/lib/junit-platform-console-standalone.jar" execute \
    --class-path "$CP" --select-class io.djlmx.kernel.cuda.CudaMxLinearTest \
    --details=tree --disable-banner --disable-ansi-colors 2>&1 | tee "$O/tests.log" | grep -vE "^\s*$" | tail -40
  RC=${PIPESTATUS[0]}
  echo "tests rc $RC"
fi
echo "== SASS of the warp-specialised kernels"
FATBIN="$O/mx-kernels.fatbin"
mx_fatbin "$FATBIN"
if command -v cuobjdump >/dev/null && [[ -f "$FATBIN" ]]; then
  for fn in mx_wgmma_ws8_fp8_a0_b0 mx_wgmma_ws3_fp8_a0_b0 mx_wgmma_ws3h_fp8_a0_b0; do
    cuobjdump --dump-sass --function "$fn" "$FATBIN" > "$O/sass-$fn.txt" 2>&1
    grep -oE "^ +/\*[0-9a-f]{4}\*/ +[A-Z][A-Z0-9._]*" "$O/sass-$fn.txt" | awk '{print $2}' | sort | uniq -c |
      sort -rn | head -20 | sed "s/^/$fn /"
  done | tee "$O/sass-summary.txt"
  rm -f "$FATBIN"
fi
if [[ "$MODE" != tests && $RC -ne 124 ]]; then  # 124: the tests timed out (a hung kernel)
  echo "== Java: WGMMA_WS vs WGMMA_WS3 rounds"
  timeout "${BENCH_TIMEOUT:-120}" "$JAVA" "${FLAGS[@]}" -cp "$CP" io.djlmx.kernel.cuda.CudaLinearBenchmark gemmfloor 2>&1 |
    tee "$O/bench-java.log"
  echo "== PyTorch reference (same call)"
  PYTHONUNBUFFERED=1 timeout 90 python3 "$B/gpu_torch_ref.py" gemm 2>&1 | tee "$O/bench-torch.log"
  echo "== summary"
  grep -h "^RESULT" "$O/bench-java.log" "$O/bench-torch.log"
fi
exit $RC
