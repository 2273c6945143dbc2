#!/usr/bin/env bash
# Builds the MUFU.EX2 rate probe (scripts/mufu_probe.cu, docs/bench/gpu-attention.md) into a folder that
# travels to the GPU machine, by default .bundle/: run there `cd .bundle && python3 mufu_probe.py mufu_probe.cubin`.
# Usage: scripts/mufu-probe.sh [OUT_DIR]      (nvcc on the PATH)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${1:-$ROOT/.bundle}"
mkdir -p "$OUT"
nvcc -O3 -cubin -gencode arch=compute_90a,code=sm_90a -o "$OUT/mufu_probe.cubin" "$ROOT/scripts/mufu_probe.cu"
cp "$ROOT/scripts/mufu_probe.py" "$OUT/"
echo "[mufu-probe] $OUT/mufu_probe.cubin and mufu_probe.py"
