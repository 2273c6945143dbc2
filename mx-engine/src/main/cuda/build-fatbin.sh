#!/usr/bin/env bash
# Builds every *.cu under SRC_DIR into one fatbin (sm_90a SASS + compute_90 PTX) at OUT_DIR/mx-kernels.fatbin.
# Without nvcc the build still passes: the GPU backend then reports itself unavailable.
set -euo pipefail
SRC_DIR="$1"
OUT_DIR="$2"
NVCC="${NVCC:-$(command -v nvcc || true)}"
shopt -s nullglob
SOURCES=("$SRC_DIR"/*.cu)
if [[ ${#SOURCES[@]} -eq 0 ]]; then
  echo "[mx-cuda] no CUDA sources in $SRC_DIR: nothing to build"
  exit 0
fi
if [[ -z "$NVCC" ]]; then
  echo "[mx-cuda] nvcc not found: skipping the CUDA fatbin; the GPU backend will report itself unavailable"
  exit 0
fi
mkdir -p "$OUT_DIR"
OUT="$OUT_DIR/mx-kernels.fatbin"
# Rebuild only when a source is newer than the fatbin.
if [[ -f "$OUT" ]]; then
  stale=0
  for f in "${SOURCES[@]}" "$SRC_DIR"/*.cuh; do [[ "$f" -nt "$OUT" ]] && stale=1; done
  if [[ $stale -eq 0 ]]; then echo "[mx-cuda] $OUT is up to date"; exit 0; fi
fi
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
# One translation unit that includes every source, so the fatbin is a single module.
ALL="$TMP/mx_all.cu"
for f in "${SOURCES[@]}"; do echo "#include \"$f\"" >> "$ALL"; done
echo "[mx-cuda] $NVCC -> $OUT (${#SOURCES[@]} sources)"
"$NVCC" -O3 -std=c++17 -I"$SRC_DIR" --fatbin \
  -gencode arch=compute_90a,code=sm_90a -gencode arch=compute_90,code=compute_90 \
  -o "$OUT" "$ALL"
