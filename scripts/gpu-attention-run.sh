#!/usr/bin/env bash
# Runs on the GPU machine from the folder that holds the bundle (scripts/gpu-bundle.sh): the CUDA
# attention test, the attention benchmark and PyTorch SDPA on the same card, logs under $OUT.
# Usage: bash .bundle/gpu-attention-run.sh [quick]
#        bash .bundle/gpu-attention-run.sh ab KERNEL1,KERNEL2[,...] [ROUNDS]   (the tests, then a same-process
#        A/B of the named CudaAttention.Kernel values, no SDPA)
#        bash .bundle/gpu-attention-run.sh masks [ROUNDS]   (the tests, then what a padding mask and BSHD cost the
#        whole forward, and SDPA)
#        bash .bundle/gpu-attention-run.sh exact [ROUNDS]   (the tests, then CudaExactAttentionBenchmark: the exact
#        kernel with 8 and 16 query rows per warp and its default choice; no SDPA)
#        bash .bundle/gpu-attention-run.sh sweep [ROUNDS]   (the tests, then the default kernel over key lengths
#        of 1 to 32 tiles, fitted to a + b·tiles; no SDPA)
set -uo pipefail
B="$(cd "$(dirname "$0")" && pwd)"
O="${OUT:-$PWD/gpu-out}"
mkdir -p "$O"
MODE="${1:-full}"
source "$B/gpu-jre.sh" # JAVA
CP="$B/lib/mx-engine.jar:$B/lib/mx-engine-tests.jar:$(ls "$B"/lib/jcuda-[0-9]*.jar)"
CP="$CP:$(ls "$B"/lib/jcuda-natives-driver-*.jar):$(ls "$B"/lib/slf4j-api-*.jar):$(ls "$B"/lib/slf4j-simple-*.jar)"
FLAGS=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx16g)
{ date -u; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; } 2>&1 | tee "$O/device.txt"
echo "== GPU attention tests"
"$JAVA" "${FLAGS[@]}" -jar "$B/lib/junit-platform-console-standalone.jar" execute \
  --class-path "$CP" --select-class io.djlmx.kernel.cuda.CudaAttentionTest \
  --select-class io.djlmx.kernel.cuda.CudaAttentionMaskLayoutTest --select-class io.djlmx.kernel.cuda.CudaExactAttentionTest \
  --details=tree \
  --disable-banner --disable-ansi-colors --reports-dir "$O/junit" 2>&1 | tee "$O/tests.log" | grep -vE "^\s*$" | tail -70
TEST_RC=${PIPESTATUS[0]}
echo "== attention benchmark"
if [[ "$MODE" == exact ]]; then
  "$JAVA" "${FLAGS[@]}" -cp "$CP" io.djlmx.kernel.cuda.CudaExactAttentionBenchmark "${@:2}" 2>&1 | tee "$O/bench-java.log"
else
  "$JAVA" "${FLAGS[@]}" -cp "$CP" io.djlmx.kernel.cuda.CudaAttentionBenchmark "$@" 2>&1 | tee "$O/bench-java.log"
fi
if [[ "$MODE" != ab && "$MODE" != sweep && "$MODE" != exact ]]; then
  echo "== PyTorch SDPA"
  PYTHONUNBUFFERED=1 python3 "$B/gpu_attention_torch_ref.py" "$MODE" 2>&1 | tee "$O/bench-torch.log"
fi
echo "== summary"
grep -h "^ATTN" "$O/tests.log"
grep -h "^RESULT" "$O/bench-java.log" "$O/bench-torch.log" 2>/dev/null
grep -E "tests (successful|failed|skipped)" "$O/tests.log"
exit $TEST_RC
