#!/usr/bin/env bash
# Runs on the GPU machine from the folder above the full bundle (scripts/gpu-bundle.sh): the DJL-level GPU attention
# tests (MxAttentionGpuTest and the model tests that run attention on GPU arrays), both GPU resource tests in their
# own JVMs (the model-level one with NMT), then GpuAttentionBenchmark [ROUNDS]; logs under $OUT.
# Usage: bash .bundle/gpu-attention-djl-run.sh [ROUNDS]
set -uo pipefail
B="$(cd "$(dirname "$0")" && pwd)"
O="${OUT:-$PWD/gpu-out}"; mkdir -p "$O"
source "$B/gpu-jre.sh"
CP="$(ls "$B"/lib/*.jar | grep -v junit-platform-console | tr '\n' ':')"
FLAGS=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx16g
  -Dai.djl.offline=true -Dai.djl.default_engine=MX -Dmx.engine.host=none -Dmx.gpu.encoderReference="$B/encoder-cpu-mx.f32")
{ date -u; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; } 2>&1 | tee "$O/device.txt"
run_tests() { # name, extra flags..., then classes after --
  local name=$1; shift; local extra=(); while [[ $1 != -- ]]; do extra+=("$1"); shift; done; shift
  local sel=(); for c in "$@"; do sel+=(--select-class "$c"); done
  local t0=$(date +%s)
  "$JAVA" "${FLAGS[@]}" "${extra[@]}" -jar "$B/lib/junit-platform-console-standalone.jar" execute --class-path "$CP" "${sel[@]}" \
    --details=tree --disable-banner --disable-ansi-colors --reports-dir "$O/junit-$name" > "$O/tests-$name.log" 2>&1
  echo "== $name rc=$? in $(( $(date +%s) - t0 )) s"; grep -E "✘|tests (successful|failed|skipped)" "$O/tests-$name.log" | head -30
}
run_tests djl -- io.djlmx.attention.djl.MxAttentionGpuTest io.djlmx.zoo.bert.BertEncoderGpuTest io.djlmx.engine.MxCudaModelTest io.djlmx.engine.MxFusedOpsGpuTest
run_tests resource -Ddjlmx.gpu.resource.report="$O/RELIABILITY-gpu.md" -- io.djlmx.kernel.cuda.CudaResourceTest
run_tests model-resource -XX:NativeMemoryTracking=summary -Ddjlmx.gpu.resource.report="$O/RELIABILITY-gpu.md" -- io.djlmx.it.GpuModelResourceTest
echo "== GpuAttentionBenchmark ${1:-7}"
"$JAVA" "${FLAGS[@]}" -cp "$CP" io.djlmx.attention.djl.GpuAttentionBenchmark "${1:-7}" > "$O/bench-java.log" 2>&1
grep -E "RESULT|Exception|at io" "$O/bench-java.log" | head -40
