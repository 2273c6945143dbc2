#!/usr/bin/env bash
# Reproduces the zoo's tiny-lm: unpacks Debian's fortune files (see tiny-lm-common.sh), trains the
# byte-level decoder-only transformer on PyTorch with DJL's training API (seeded), and writes
# tiny-lm-0000.params + tiny-lm.properties into model-zoo's resources and the held-out test sample
# into model-zoo's test resources. ~15 min on the shared 2-core machine.
# Usage: scripts/train-tiny-lm.sh [steps (200)] [seed (42)]; then scripts/tiny-lm-accuracy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tiny-lm-common.sh
run_java io.djlmx.examples.train.TrainTinyLm "$CORPUS" \
  model-zoo/src/main/resources/io/djlmx/zoo/tiny-lm \
  model-zoo/src/test/resources/tiny-lm/heldout-sample.txt "${1:-200}" "${2:-42}"
