#!/usr/bin/env bash
# Runs on the GPU machine from the folder above a bundle made with GPU_BUNDLE_MINILM=1 scripts/gpu-bundle.sh:
# the split-BF16 tensor-core linear and both launch paths in one call: host time per launch (JCuda vs
# driver), the kernel's SASS, its GPU tests, all-MiniLM-L6-v2 at batch 1 and 32 with the tensor-core kernel and
# JCuda launches (default), with one K group per CTA (-Dmx.cuda.tcKSplit=1), with FFM driver launches
# (-Dmx.cuda.launcher=driver) and with the SIMT GEMM (-Dmx.cuda.tensorCoreLinear=false), a run with per-kernel
# CUDA-event profiling (-Dmx.cuda.profile=true), PyTorch FP32/BF16 on the same weights and ids, the kernel benchmark at
# MiniLM's shapes beside torch's linear and bmm, then the other GPU tests (agreement, arrays, model, encoder,
# attention, pool). Logs under $OUT (or ./gpu-out), packed into one archive.
# Usage: bash .bundle-gputc/gputc-run.sh
set -uo pipefail
DEFAULT_BUDGET=440
RT_NAME=gputc
source "$(dirname "$0")/gpu-run-common.sh"
device_info

echo "== SASS of the tensor-core kernel"
mx_fatbin /tmp/mx.fatbin
for fn in mx_gemm_tc_f3_p3_m64_k2 mx_gemm_tc_f3_p3_m32_k2; do
  cuobjdump --dump-sass --function "$fn" /tmp/mx.fatbin 2>/dev/null |
    grep -oE "^ +/\*[0-9a-f]{4}\*/ +[A-Z][A-Z0-9._]*" | awk '{print $2}' | sort | uniq -c | sort -rn | head -14 | sed "s/^/$fn /"
done | tee "$O/sass.txt" | grep -E "HMMA|LDSM|LDL|STL" 

echo "== host time per kernel launch: JCuda vs straight to the driver (FFM)"
timeout "$(limit 60)" "$JAVA" "${FLAGS[@]}" -cp "$CP" io.djlmx.kernel.cuda.CudaLinearBenchmark launch > "$O/bench-launch.log" 2>&1
grep -hE "^RESULT|Exception" "$O/bench-launch.log"

echo "== tensor-core linear tests"
junit tests-tc.log 150 -- io.djlmx.kernel.cuda.CudaTensorCoreLinearTest io.djlmx.kernel.cuda.CudaMxLinearTest
grep -E "^TCERR|✘|Failed|expected" "$O/tests-tc.log" | head -60

echo "== MiniLM (real weights) on MX GPU arrays: tensor cores (2 K groups) + JCuda launches (default), 1 K group, FFM driver launches, SIMT GEMM; then a profiled run"
minilm tc
minilm tc-k1 -Dmx.cuda.tcKSplit=1
minilm tc-driver -Dmx.cuda.launcher=driver
minilm simt -Dmx.cuda.tensorCoreLinear=false
minilm tc-profile -Dmx.cuda.profile=true
grep -hA14 "^PROFILE" "$O/minilm-java-tc-profile.log"
echo "== PyTorch on the same weights and ids"
PYTHONUNBUFFERED=1 timeout "$(limit 70)" python3 "$B/minilm_torch_ref.py" "$B/minilm" "$O" > "$O/minilm-torch.log" 2>&1
grep -hE "^RESULT|Error|torch " "$O/minilm-torch.log" | head -16

echo "== kernel benchmark at MiniLM's shapes"
timeout "$(limit 100)" "$JAVA" "${FLAGS[@]}" -cp "$CP" io.djlmx.kernel.cuda.CudaLinearBenchmark tc > "$O/bench-tc.log" 2>&1
grep -hE "^RESULT|^dispatch|Exception|device" "$O/bench-tc.log"
PYTHONUNBUFFERED=1 timeout "$(limit 80)" python3 "$B/gputc_torch_ref.py" > "$O/bench-torch-tc.log" 2>&1
grep -hE "^RESULT|Error|torch " "$O/bench-torch-tc.log"

echo "== other GPU tests (agreement, arrays, model, encoder)"
junit tests-other.log 90 -- io.djlmx.kernel.cuda.CudaCpuAgreementTest io.djlmx.engine.MxCudaNDArrayTest \
  io.djlmx.engine.MxCudaModelTest io.djlmx.zoo.bert.BertEncoderGpuTest io.djlmx.kernel.cuda.CudaBackendTest \
  io.djlmx.kernel.cuda.CudaAttentionTest io.djlmx.kernel.cuda.CudaMemoryPoolTest
date -u
(cd "$O" && rm -f ./*.f32 && tar czf logs.tar.gz --exclude=logs.tar.gz ./*.log ./*.txt &&
  find . -maxdepth 1 -type f ! -name logs.tar.gz -delete)
