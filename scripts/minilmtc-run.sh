#!/usr/bin/env bash
# Runs on the GPU machine from the folder above a bundle made with GPU_BUNDLE_MINILM=1 scripts/gpu-bundle.sh:
# the pre-split BF16 tensor-core linear (mx_gemm_tcs.cu, branch minilmtc) against the register-prefetch
# kernel it replaces (mx_gemm_tc.cu, -Dmx.cuda.tcPresplit=false) in one call: the linear GPU tests, the kernel
# benchmark at all-MiniLM-L6-v2's shapes (CudaLinearBenchmark tcs) beside PyTorch BF16/FP32 linear (eager and
# CUDA-graph timings), all-MiniLM-L6-v2 (real weights, fused kernels, device pooling) with each kernel in
# alternating rounds with a per-kernel profile, PyTorch FP32/BF16 on the same weights and ids, then the other
# GPU tests. Env: RUN_BUDGET (s, default 280), MINILMTC_RUNS (MiniLM rounds, default 2), MINILMTC_BENCH (0 skips
# the kernel benchmark), MINILMTC_TORCHREF (0 skips PyTorch's kernel timings), MINILMTC_TESTS (0: no tests; 1: linear tests only; 2, the default: all).
# Logs under $OUT (or ./gpu-out).
set -uo pipefail
B="$(cd "$(dirname "$0")" && pwd)"
O="${OUT:-$PWD/gpu-out}"
mkdir -p "$O"
JAVA="$B/jre/bin/java"
if [[ ! -x "$JAVA" ]]; then
  mkdir -p /tmp/minilmtc-rt
  tar xJf "$B/jre.tar.xz" -C /tmp/minilmtc-rt 2>/dev/null ||
    python3 -c "import tarfile,sys; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" "$B/jre.tar.xz" /tmp/minilmtc-rt
  JAVA=/tmp/minilmtc-rt/jre/bin/java
fi
CP="$(ls "$B"/lib/*.jar | grep -v junit-platform-console | tr '\n' ':')"
FLAGS=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx16g
  -Dai.djl.offline=true -Dai.djl.default_engine=MX -Dmx.engine.host=none -Dmx.gpu.encoderReference="$B/encoder-cpu-mx.f32")
START=$SECONDS
BUDGET="${RUN_BUDGET:-280}"
TESTS="${MINILMTC_TESTS:-2}"
limit() { local left=$((BUDGET - (SECONDS - START))); if ((left < 10)); then echo 1; elif ((left < $1)); then echo $left; else echo $1; fi; }
junit() { # junit LOG TIMEOUT -- classes...
  local log="$1" limit; limit="$(limit "$2")"; shift 3
  if [[ $limit == 1 ]]; then echo "[$log] skipped: run budget spent"; return; fi
  local sel=()
  for c in "$@"; do sel+=(--select-class "$c"); done
  timeout "$limit" "$JAVA" "${FLAGS[@]}" -jar "$B/lib/junit-platform-console-standalone.jar" execute \
    --class-path "$CP" "${sel[@]}" --details=tree --disable-banner --disable-ansi-colors > "$O/$log" 2>&1
  echo "[$log] rc=$? $(grep -E 'tests (successful|failed|aborted|skipped)' "$O/$log" | tr -s ' ' | tr '\n' ' ')"
}
minilm() { # minilm LABEL [java flags...]
  local label="$1"; shift
  timeout "$(limit 60)" "$JAVA" "${FLAGS[@]}" -Dmx.cuda.profile=true -Dmx.bench.pooling=device \
    -Dmx.bench.tokenPacking=false "$@" -cp "$CP" io.djlmx.zoo.bert.MiniLmGpuBenchmark \
    "$B/minilm" "$O" "$label" > "$O/minilm-java-$label.log" 2>&1
  grep -hE "^RESULT|Exception" "$O/minilm-java-$label.log" | head -8
}
{ date -u; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv; } 2>&1 | tee "$O/device.txt"

if [[ "$TESTS" != 0 ]]; then
  echo "== linear tests (both tensor-core kernels, all formats, odd shapes, FP64 reference)"
  junit tests-tc.log 120 -- io.djlmx.kernel.cuda.CudaTensorCoreLinearTest io.djlmx.kernel.cuda.CudaMxLinearTest
  grep -hE "^TCERR|✘|expected|Exception" "$O/tests-tc.log" | head -60
fi

echo "== all-MiniLM-L6-v2 (fused kernels, padded batch, device pooling): old kernel, pre-split, pre-split for K >= 768 only (hyb), alternating"
for r in $(seq 1 "${MINILMTC_RUNS:-2}"); do
  minilm "old$r" -Dmx.cuda.tcPresplit=false
  minilm "tcs$r" -Dmx.cuda.tcPresplit=true -Dmx.cuda.tcPresplitMinBlocks=0
  minilm "hyb$r" -Dmx.cuda.tcPresplit=true -Dmx.cuda.tcPresplitMinBlocks=24
done
for f in "$O"/minilm-java-old1.log "$O"/minilm-java-tcs1.log "$O"/minilm-java-hyb1.log; do
  echo "--- $(basename "$f")"; grep -hA16 "^PROFILE" "$f" | grep -v "^RESULT" | head -40
done
echo "== PyTorch on the same weights and ids"
PYTHONUNBUFFERED=1 timeout "$(limit 70)" python3 "$B/minilm_torch_ref.py" "$B/minilm" "$O" > "$O/minilm-torch.log" 2>&1
grep -hE "^RESULT|Error|torch " "$O/minilm-torch.log" | head -20

if [[ "${MINILMTC_BENCH:-1}" != 0 ]]; then
  echo "== kernel benchmark at MiniLM's shapes"
  timeout "$(limit 90)" "$JAVA" "${FLAGS[@]}" -cp "$CP" io.djlmx.kernel.cuda.CudaLinearBenchmark tcs > "$O/bench-tcs.log" 2>&1
  grep -hE "^RESULT|^dispatch|Exception|device" "$O/bench-tcs.log"
  if [[ "${MINILMTC_TORCHREF:-1}" != 0 ]]; then
    PYTHONUNBUFFERED=1 timeout "$(limit 60)" python3 "$B/minilmtc_torch_ref.py" > "$O/bench-torch-tcs.log" 2>&1
    grep -hE "^RESULT|Error|torch " "$O/bench-torch-tcs.log"
  fi
fi

if [[ "$TESTS" == 2 ]]; then
  echo "== other GPU tests: fused ops, arrays, model, encoder, CPU/GPU agreement"
  junit tests-other.log 120 -- io.djlmx.engine.MxFusedOpsGpuTest io.djlmx.engine.MxCudaNDArrayTest \
    io.djlmx.engine.MxCudaModelTest io.djlmx.zoo.bert.BertEncoderGpuTest io.djlmx.kernel.cuda.CudaCpuAgreementTest
  grep -hE "✘|Exception|expected" "$O/tests-other.log" | head -20
fi
date -u
(cd "$O" && rm -f ./*.f32 && tar czf logs.tar.gz --exclude=logs.tar.gz ./*.log device.txt &&
  find . -maxdepth 1 -type f ! -name logs.tar.gz -delete)
