# Sourced by the GPU run scripts that travel in a GPU_BUNDLE_MINILM=1 bundle (gpufuse-run.sh, gputc-run.sh,
# minilmtc-run.sh, gpu-model-run.sh), from the bundle folder: the bundle's Java runtime, class path and flags,
# a run budget and the helpers every such script uses.
# Set before sourcing: DEFAULT_BUDGET (seconds; RUN_BUDGET overrides it), RT_NAME (the runtime is unpacked to
# /tmp/$RT_NAME-rt when the bundle carries it as jre.tar.xz), optionally MIN_LEFT (seconds under which a step is
# skipped, default 10) and MINILM_FLAGS (java flags of every minilm run).
B="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
O="${OUT:-$PWD/gpu-out}"
mkdir -p "$O"
JRE_DIR="/tmp/$RT_NAME-rt" # the packed runtime is unpacked outside the checkout
source "$B/gpu-jre.sh"     # JAVA, mx_fatbin
CP="$(ls "$B"/lib/*.jar | grep -v junit-platform-console | tr '\n' ':')"
FLAGS=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx16g
  -Dai.djl.offline=true -Dai.djl.default_engine=MX -Dmx.engine.host=none -Dmx.gpu.encoderReference="$B/encoder-cpu-mx.f32")
START=$SECONDS
BUDGET="${RUN_BUDGET:-$DEFAULT_BUDGET}"
# limit N: N seconds, or what is left of the run's budget (1 when less than MIN_LEFT is)
limit() {
  local left=$((BUDGET - (SECONDS - START)))
  if ((left < ${MIN_LEFT:-10})); then echo 1; elif ((left < $1)); then echo $left; else echo $1; fi
}
junit() { # junit LOG TIMEOUT [java flags...] -- classes...
  local log="$1" limit; limit="$(limit "$2")"; shift 2
  if [[ $limit == 1 ]]; then echo "[$log] skipped: run budget spent"; return; fi
  local flags=() sel=()
  while [[ $# -gt 0 && "$1" != "--" ]]; do flags+=("$1"); shift; done
  shift
  for c in "$@"; do sel+=(--select-class "$c"); done
  timeout "$limit" "$JAVA" "${FLAGS[@]}" "${flags[@]}" -jar "$B/lib/junit-platform-console-standalone.jar" execute \
    --class-path "$CP" "${sel[@]}" --details=tree --disable-banner --disable-ansi-colors > "$O/$log" 2>&1
  echo "[$log] rc=$? $(grep -E 'tests (successful|failed|aborted|skipped)' "$O/$log" | tr -s ' ' | tr '\n' ' ')"
}
minilm() { # minilm LABEL [java flags...]: one all-MiniLM-L6-v2 benchmark run, its RESULT lines
  local label="$1"; shift
  timeout "$(limit 60)" "$JAVA" "${FLAGS[@]}" ${MINILM_FLAGS[@]+"${MINILM_FLAGS[@]}"} "$@" -cp "$CP" \
    io.djlmx.zoo.bert.MiniLmGpuBenchmark "$B/minilm" "$O" "$label" > "$O/minilm-java-$label.log" 2>&1
  grep -hE "^RESULT|Exception" "$O/minilm-java-$label.log" | head -8
}
device_info() { # the card, into $O/device.txt
  { date -u; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv; } 2>&1 |
    tee "$O/device.txt"
}
