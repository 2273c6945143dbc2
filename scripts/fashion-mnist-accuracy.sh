#!/usr/bin/env bash
# Writes docs/ACCURACY-cnn.md: top-1 of the zoo's fashion-mnist-cnn per MX format on the 10,000
# Fashion-MNIST test images (Debian dataset-fashion-mnist, installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/fashion-mnist-common.sh
run_java io.djlmx.examples.train.FashionMnistAccuracy "$DATA" docs/ACCURACY-cnn.md
