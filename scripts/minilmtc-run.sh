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
DEFAULT_BUDGET=280
RT_NAME=minilmtc
MINILM_FLAGS=(-Dmx.cuda.profile=true -Dmx.bench.pooling=device -Dmx.bench.tokenPacking=false)
source "$(dirname "$0")/gpu-run-common.sh"
TESTS="${MINILMTC_TESTS:-2}"
device_info

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
