#!/usr/bin/env bash
# Runs on the GPU machine from the folder above the bundle: profiles the warp-specialised MXFP8 GEMM
# variants at 8192^3 with Nsight Compute (when the machine has ncu), one launch each, writing the
# report under $OUT. Usage: bash .bundle/gpu-profile.sh
set -uo pipefail
B="$(cd "$(dirname "$0")" && pwd)"
O="${OUT:-$PWD/gpu-out}"
mkdir -p "$O"
NCU="$(command -v ncu || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)"
if [[ -z "$NCU" ]]; then echo "gpu-profile: no ncu on this machine"; exit 0; fi
source "$B/gpu-jre.sh" # JAVA
CP="$B/lib/mx-engine.jar:$B/lib/mx-engine-tests.jar:$(ls "$B"/lib/jcuda-[0-9]*.jar)"
CP="$CP:$(ls "$B"/lib/jcuda-natives-driver-*.jar):$(ls "$B"/lib/slf4j-api-*.jar):$(ls "$B"/lib/slf4j-simple-*.jar)"
timeout "${PROFILE_TIMEOUT:-240}" "$NCU" --target-processes all -k "regex:mx_wgmma_ws8?_fp8_a0_b0" --launch-skip 0 --launch-count 4 \
  --metrics "regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio" \
  --section SchedulerStats --section WarpStateStats --section ComputeWorkloadAnalysis --section SpeedOfLight \
  "$JAVA" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx16g -cp "$CP" \
  io.djlmx.kernel.cuda.CudaLinearBenchmark profile > "$O/ncu.txt" 2>&1
echo "gpu-profile: rc $? (report in ncu.txt)"
