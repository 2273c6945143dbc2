#!/usr/bin/env bash
# Runs on the GPU machine from the folder above a bundle made with GPU_BUNDLE_MINILM=1 scripts/gpu-bundle.sh:
# the fused encoder-layer kernels (branch gpufuse) against the unfused ops in one call. all-MiniLM-L6-v2 (real
# weights) at batch 1 and 32 with the fused kernels off and every padded position through every layer
# (-Dmx.cuda.fused=false -Dmx.bench.tokenPacking=false: the ops as on main), with the fused kernels on the padded
# batch (the default), and with the fused kernels on packed tokens (-Dmx.bench.tokenPacking=true), in alternating rounds, every run with a
# per-kernel CUDA-event profile after its timed passes; PyTorch FP32/BF16 on
# the same weights and ids (and the cosine of every run's embeddings against them); then the GPU tests of the
# fused kernels, the linear kernels (their epilogue parameter is new), the arrays, the model and the encoder.
# Each configuration runs with the benchmark's host pooling (hidden states copied back, pooled in Java) and with
# the zoo translator's pooling ops on the device (-Dmx.bench.pooling=device, as the PyTorch reference pools).
# Env: RUN_BUDGET (seconds, default 420), GPUFUSE_RUNS (MiniLM rounds, default 2), GPUFUSE_POOLING (default
# "host device"), GPUFUSE_TESTS (0 skips them),
# GPUFUSE_EXTRA (java flags for the fused runs). Logs under $OUT (or ./gpu-out), packed into one archive.
set -uo pipefail
DEFAULT_BUDGET=420
RT_NAME=gpufuse
MINILM_FLAGS=(-Dmx.cuda.profile=true)
source "$(dirname "$0")/gpu-run-common.sh"
device_info

echo "== all-MiniLM-L6-v2 on MX GPU arrays: main's ops (unfused, every padded position), fused kernels on the padded"
echo "   batch, fused kernels with packed tokens (packed attention); alternating rounds"
EXTRA=(${GPUFUSE_EXTRA:-})
POOLS=(${GPUFUSE_POOLING:-host device})
for r in $(seq 1 "${GPUFUSE_RUNS:-2}"); do
  for p in "${POOLS[@]}"; do
    minilm "base-$p$r" -Dmx.bench.pooling=$p -Dmx.cuda.fused=false -Dmx.bench.tokenPacking=false
    minilm "fusedpad-$p$r" -Dmx.bench.pooling=$p -Dmx.bench.tokenPacking=false "${EXTRA[@]}"
    minilm "fused-$p$r" -Dmx.bench.pooling=$p -Dmx.bench.tokenPacking=true "${EXTRA[@]}"
  done
done
for f in "$O"/minilm-java-base-"${POOLS[0]}"1.log "$O"/minilm-java-fusedpad-"${POOLS[0]}"1.log "$O"/minilm-java-fused-"${POOLS[0]}"1.log; do
  echo "--- $(basename "$f")"; grep -hA22 "^PROFILE" "$f" | grep -v "^RESULT" | head -60
done
echo "== PyTorch on the same weights and ids"
PYTHONUNBUFFERED=1 timeout "$(limit 70)" python3 "$B/minilm_torch_ref.py" "$B/minilm" "$O" > "$O/minilm-torch.log" 2>&1
grep -hE "^RESULT|Error|torch " "$O/minilm-torch.log" | head -20

if [[ "${GPUFUSE_TESTS:-1}" != 0 ]]; then
  echo "== GPU tests: fused kernels, linear kernels, arrays, model, encoder, CPU/GPU agreement"
  junit tests-fused.log 60 -- io.djlmx.engine.MxFusedOpsGpuTest
  junit tests.log 200 -- io.djlmx.kernel.cuda.CudaMxLinearTest io.djlmx.kernel.cuda.CudaTensorCoreLinearTest \
    io.djlmx.engine.MxCudaNDArrayTest io.djlmx.engine.MxCudaModelTest io.djlmx.zoo.bert.BertEncoderGpuTest \
    io.djlmx.kernel.cuda.CudaCpuAgreementTest
  grep -hE "✘|MethodSource.*fail|Exception|expected" "$O/tests-fused.log" "$O/tests.log" | head -20
fi
date -u
(cd "$O" && rm -f ./*.f32 && tar czf logs.tar.gz --exclude=logs.tar.gz ./*.log device.txt &&
  find . -maxdepth 1 -type f ! -name logs.tar.gz -delete)
