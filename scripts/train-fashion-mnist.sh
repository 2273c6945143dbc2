#!/usr/bin/env bash
# Reproduces the zoo's fashion-mnist-cnn: installs Debian's dataset-fashion-mnist, trains the CNN on
# PyTorch with DJL's training API (seeded), writes fashion-mnist-cnn-0000.params into model-zoo's
# resources and the 200-image test sample into model-zoo's test resources.
# Usage: scripts/train-fashion-mnist.sh [epochs (8)] [seed (42)]; then scripts/fashion-mnist-accuracy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/fashion-mnist-common.sh
run_java io.djlmx.examples.train.TrainFashionMnistCnn "$DATA" \
  model-zoo/src/main/resources/io/djlmx/zoo/fashion-mnist-cnn \
  model-zoo/src/test/resources/fashion-mnist "${1:-8}" "${2:-42}"
