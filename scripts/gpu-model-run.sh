#!/usr/bin/env bash
# Runs on the GPU machine from the folder that holds a bundle made with GPU_BUNDLE_MINILM=1 scripts/gpu-bundle.sh:
# the device memory pool tests and the GPU tests that allocate through it, the kernel- and model-level resource
# tests (figures to $OUT/RELIABILITY-gpu.md), the real all-MiniLM-L6-v2 on MX GPU arrays (stream-ordered pool,
# then cuMemAlloc per buffer), PyTorch on the same weights and ids (FP32, BF16), and the random-weight encoder
# benchmark with both allocators. Every step has its own time limit; logs go to $OUT (or ./gpu-out).
set -uo pipefail
DEFAULT_BUDGET=280
RT_NAME=gpumodel
MIN_LEFT=15
source "$(dirname "$0")/gpu-run-common.sh"
device_info

echo "== resource tests: kernel level, then model level (figures in \$OUT/RELIABILITY-gpu.md)"
junit tests-resource.log 40 -Ddjlmx.gpu.resource.report="$O/RELIABILITY-gpu.md" -- io.djlmx.kernel.cuda.CudaResourceTest
junit tests-model-resource.log 90 -XX:NativeMemoryTracking=summary -Ddjlmx.gpu.resource.report="$O/RELIABILITY-gpu.md" \
  -- io.djlmx.it.GpuModelResourceTest

echo "== MiniLM (real weights) on MX GPU arrays, stream-ordered pool"
timeout "$(limit 50)" "$JAVA" "${FLAGS[@]}" -cp "$CP" io.djlmx.zoo.bert.MiniLmGpuBenchmark "$B/minilm" "$O" pool > "$O/minilm-java-pool.log" 2>&1
grep -hE "^RESULT|Exception" "$O/minilm-java-pool.log" | head -8
echo "== PyTorch on the same weights and ids"
PYTHONUNBUFFERED=1 timeout "$(limit 60)" python3 "$B/minilm_torch_ref.py" "$B/minilm" "$O" > "$O/minilm-torch.log" 2>&1
grep -hE "^RESULT|Error|torch " "$O/minilm-torch.log" | head -14

echo "== GPU tests (pool, arrays, model, encoder, MX linear kernels, CPU/GPU agreement)"
junit tests.log 150 -- io.djlmx.kernel.cuda.CudaMemoryPoolTest io.djlmx.kernel.cuda.CudaBackendTest \
  io.djlmx.engine.MxCudaNDArrayTest io.djlmx.engine.MxCudaModelTest io.djlmx.zoo.bert.BertEncoderGpuTest \
  io.djlmx.kernel.cuda.CudaMxLinearTest io.djlmx.kernel.cuda.CudaTensorCoreLinearTest io.djlmx.kernel.cuda.CudaCpuAgreementTest
echo "== MiniLM with cuMemAlloc per buffer; random-weight encoder, both allocators"
timeout "$(limit 30)" "$JAVA" "${FLAGS[@]}" -Dmx.cuda.allocator=direct -cp "$CP" io.djlmx.zoo.bert.MiniLmGpuBenchmark "$B/minilm" "$O" direct > "$O/minilm-java-direct.log" 2>&1
grep -hE "^RESULT|Exception" "$O/minilm-java-direct.log" | head -4
for alloc in pool direct; do
  for b in 1 32; do
    timeout "$(limit 15)" "$JAVA" "${FLAGS[@]}" -Dmx.cuda.allocator=$alloc -cp "$CP" io.djlmx.zoo.bert.GpuEncoderBenchmark $b 2>&1 |
      grep -E "^RESULT|Exception" | sed "s/^/[$alloc] /"
  done
done | tee "$O/encoder-bench.log"
echo "== agreement of the direct-allocator embeddings"
PYTHONUNBUFFERED=1 timeout 10 python3 - "$O" <<'PY' 2>&1 | tee -a "$O/minilm-torch.log"
import sys, numpy as np
o = sys.argv[1]
try:
    a = np.fromfile(f"{o}/minilm-gpu-emb-pool.f32", dtype="<f4"); b = np.fromfile(f"{o}/minilm-gpu-emb-direct.f32", dtype="<f4")
    print("RESULT minilm-agree pool vs direct: bitwise equal" if np.array_equal(a, b) else f"RESULT minilm-agree pool vs direct: max |diff| {np.abs(a-b).max():.3g}")
except OSError as e:
    print("no embeddings to compare:", e)
PY
date -u
# At most 8 files come back from the device: keep the report, pack the logs, drop the embeddings.
(cd "$O" && rm -f ./*.f32 && tar czf logs.tar.gz --exclude=logs.tar.gz --exclude=RELIABILITY-gpu.md ./*.log device.txt &&
  find . -maxdepth 1 -type f ! -name logs.tar.gz ! -name RELIABILITY-gpu.md -delete)
