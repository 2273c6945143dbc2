#!/usr/bin/env bash
# Held-out perplexity of the zoo's tiny-lm per MX format (weight-only, weight + activation, MX
# attention) into docs/ACCURACY-lm.md. Unpacks Debian's fortune files if needed (tiny-lm-common.sh).
# Usage: scripts/tiny-lm-accuracy.sh [windows (120)]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tiny-lm-common.sh
run_java io.djlmx.examples.cli.MxCommand eval lm --corpus "$CORPUS" --windows "${1:-120}" \
  --out docs/ACCURACY-lm.md
