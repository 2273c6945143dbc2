#!/usr/bin/env bash
# Runs on the GPU machine from the folder above the bundle: profiles one non-causal and one causal forward
# of the default attention kernel at B=4, H=32, S=4096, D=128 (the quantization launches and the fused
# kernel) with Nsight Compute, when the machine has ncu; the report goes to $OUT/ncu-attention.txt.
# Usage: bash .bundle/gpu-attention-profile.sh [pipes|mem|source|quant|sass [KERNEL...]]   (pipes: the default
# kernel's pipe utilization; mem: its memory speed-of-light next to SDPA's; source: its warp-stall samples per SASS instruction; quant: the quantization
# launches of the FP32 and BF16 forwards, durations, memory throughput and occupancy; sass: the SASS of the
# named kernels, by default mx_attn_wg1q_d128, from the bundle's fatbin with cuobjdump, which the GPU machine
# has and this one does not, into $OUT/KERNEL.sass)
set -uo pipefail
B="$(cd "$(dirname "$0")" && pwd)"
source "$B/gpu-jre.sh" # JAVA, mx_fatbin
if [[ "${1:-}" == sass ]]; then
  O="${OUT:-$PWD/gpu-out}"
  mkdir -p "$O"
  CUOBJDUMP="$(command -v cuobjdump || ls /usr/local/cuda*/bin/cuobjdump 2>/dev/null | head -1)"
  if [[ -z "$CUOBJDUMP" ]]; then echo "gpu-attention-profile: no cuobjdump on this machine"; exit 0; fi
  mx_fatbin "$O/mx-kernels.fatbin"
  shift
  for k in "${@:-mx_attn_wg1q_d128}"; do
    "$CUOBJDUMP" -sass -fun "$k" "$O/mx-kernels.fatbin" > "$O/$k.sass" 2>&1
    echo "gpu-attention-profile: $k: $(grep -c 'GMMA' "$O/$k.sass") MMAs, $(grep -c 'R2UR' "$O/$k.sass") R2UR," \
      "$(grep -cE 'LDL|STL' "$O/$k.sass") local loads/stores"
  done
  rm -f "$O/mx-kernels.fatbin"
  exit 0
fi
O="${OUT:-$PWD/gpu-out}"
mkdir -p "$O"
NCU="$(command -v ncu || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)"
if [[ -z "$NCU" ]]; then echo "gpu-attention-profile: no ncu on this machine"; exit 0; fi
CP="$B/lib/mx-engine.jar:$B/lib/mx-engine-tests.jar:$(ls "$B"/lib/jcuda-[0-9]*.jar)"
CP="$CP:$(ls "$B"/lib/jcuda-natives-driver-*.jar):$(ls "$B"/lib/slf4j-api-*.jar):$(ls "$B"/lib/slf4j-simple-*.jar)"
# the profiled program: one non-causal and one causal forward of the default kernel, one with BF16 inputs
BENCH=("$JAVA" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx16g -cp "$CP"
  io.djlmx.kernel.cuda.CudaAttentionBenchmark profile)
if [[ "${1:-}" == source ]]; then
  # Warp-stall samples per SASS instruction of the default attention kernel (one non-causal launch), as CSV.
  timeout "${PROFILE_TIMEOUT:-150}" "$NCU" --target-processes all -k "regex:${ATTN_KERNEL_REGEX:-mx_attn_wg1q_d128}" --launch-count 1 \
    --section SourceCounters --section WarpStateStats -f -o "$O/ncu-attention-source" \
    "${BENCH[@]}" > "$O/ncu-attention-source.log" 2>&1
  rc=$?
  "$NCU" -i "$O/ncu-attention-source.ncu-rep" --page source --csv --print-source sass > "$O/ncu-attention-source.csv" 2>&1
  rm -f "$O/ncu-attention-source.ncu-rep"
  echo "gpu-attention-profile: rc $rc (per-instruction samples in ncu-attention-source.csv)"
  exit 0
fi
if [[ "${1:-}" == quant ]]; then
  timeout "${PROFILE_TIMEOUT:-150}" "$NCU" --target-processes all -k "regex:mx_attn_(prep|quant)" --launch-count 6 \
    --section SpeedOfLight --section MemoryWorkloadAnalysis --section Occupancy --section LaunchStats \
    --section WarpStateStats "${BENCH[@]}" > "$O/ncu-attention-quant.txt" 2>&1
  echo "gpu-attention-profile: rc $? (report in ncu-attention-quant.txt)"
  exit 0
fi
if [[ "${1:-}" == mem ]]; then
  # Memory speed-of-light of the default attention kernel (one non-causal launch) and of PyTorch SDPA's BF16
  # kernel on the same shape: how close each runs to the L2 and DRAM bandwidth.
  SECS=(--section SpeedOfLight --section MemoryWorkloadAnalysis --section MemoryWorkloadAnalysis_Tables)
  timeout "${PROFILE_TIMEOUT:-150}" "$NCU" --target-processes all -k "regex:mx_attn_wg1q" --launch-count 1 \
    "${SECS[@]}" "${BENCH[@]}" > "$O/ncu-attention-mem.txt" 2>&1
  echo "gpu-attention-profile: rc $? (report in ncu-attention-mem.txt)"
  timeout "${PROFILE_TIMEOUT:-150}" "$NCU" --target-processes all -k "regex:flash|fmha|attention" \
    --launch-skip 2 --launch-count 1 "${SECS[@]}" python3 "$B/gpu_attention_torch_ref.py" quick \
    > "$O/ncu-sdpa-mem.txt" 2>&1
  echo "gpu-attention-profile: rc $? (SDPA report in ncu-sdpa-mem.txt)"
  exit 0
fi
if [[ "${1:-}" == pipes ]]; then
  # Pipe utilization and warp states of the default attention kernel (one non-causal launch): which of
  # the tensor, XU (MUFU and conversions), FMA and ALU pipes and the issue slots bound it.
  M="regex:^sm__inst_executed_pipe_[a-z_]+\.avg\.pct_of_peak_sustained_active$"
  M="$M,regex:^sm__pipe_[a-z_]+_cycles_active\.avg\.pct_of_peak_sustained_active$"
  M="$M,sm__cycles_elapsed.avg,smsp__issue_active.avg.pct_of_peak_sustained_active,smsp__inst_executed.sum"
  timeout "${PROFILE_TIMEOUT:-150}" "$NCU" --target-processes all -k "regex:${ATTN_KERNEL_REGEX:-mx_attn_wg}" --launch-count 1 \
    --section WarpStateStats --section SchedulerStats --metrics "$M" \
    "${BENCH[@]}" > "$O/ncu-attention-pipes.txt" 2>&1
  echo "gpu-attention-profile: rc $? (report in ncu-attention-pipes.txt)"
  exit 0
fi
timeout "${PROFILE_TIMEOUT:-150}" "$NCU" --target-processes all -k "regex:mx_attn_" --launch-count 10 \
  --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section ComputeWorkloadAnalysis \
  --section LaunchStats --section Occupancy "${BENCH[@]}" > "$O/ncu-attention.txt" 2>&1
echo "gpu-attention-profile: rc $? (report in ncu-attention.txt)"
