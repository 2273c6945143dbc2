#!/usr/bin/env bash
# Runs on the GPU machine from the folder that holds the bundle (made by scripts/gpu-bundle.sh): the
# tests of the device-resident MX arrays (every array kernel against an FP64 host reference, memory,
# fallbacks) and the zoo's BERT encoder on the GPU, with mx.engine.host=none: PyTorch is never loaded. Logs
# go under $OUT (or ./gpu-out). Usage: bash .bundle/gpu-arrays-run.sh
set -uo pipefail
B="$(cd "$(dirname "$0")" && pwd)"
O="${OUT:-$PWD/gpu-out}"
mkdir -p "$O"
source "$B/gpu-jre.sh" # JAVA
CP="$(ls "$B"/lib/*.jar | grep -v junit-platform-console | tr '\n' ':')"
FLAGS=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx16g
  -Dai.djl.offline=true -Dai.djl.default_engine=MX -Dmx.engine.host=none -Dmx.cuda.poison=true -Dmx.cuda.syncChecks=true
  -Dmx.gpu.encoderReference="$B/encoder-cpu-mx.f32")
{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
} 2>&1 | tee "$O/device.txt"
echo "== GPU array tests (mx.engine.host=none)"
"$JAVA" "${FLAGS[@]}" -jar "$B/lib/junit-platform-console-standalone.jar" execute \
  --class-path "$CP" --select-class io.djlmx.engine.MxCudaNDArrayTest --select-class io.djlmx.engine.MxCudaModelTest \
  --select-class io.djlmx.engine.HostEngineTest --select-class io.djlmx.kernel.cuda.CudaBackendTest \
  --select-class io.djlmx.zoo.bert.BertEncoderGpuTest \
  --details=tree --disable-banner --disable-ansi-colors \
  --reports-dir "$O/junit" 2>&1 | tee "$O/arrays-tests.log" | grep -vE "^\s*$" | tail -80
RC=${PIPESTATUS[0]}
grep -E "tests (successful|failed|skipped|aborted)" "$O/arrays-tests.log"
echo "== MiniLM-shape encoder on MX GPU arrays (timing)"
for b in 1 32; do
  "$JAVA" "${FLAGS[@]}" -cp "$CP" io.djlmx.zoo.bert.GpuEncoderBenchmark $b 2>&1 | grep -E "RESULT|Exception|at io" | tee -a "$O/encoder-bench.log"
done
exit $RC
