#!/usr/bin/env bash
# Copies the handwritten-digits data set used by the engine-swap example into
# examples/src/main/resources/io/djlmx/examples/digits.csv.gz.
# Source: Debian package python3-sklearn (sklearn/datasets/data/digits.csv.gz): 1,797 8x8 images,
# pixel values 0..16, label last. It is a copy of the test set of the UCI "Optical Recognition of
# Handwritten Digits" data set (E. Alpaydin, C. Kaynak, 1998; UCI licence CC BY 4.0), shipped by
# scikit-learn (BSD-3-Clause). Only the package's file is extracted; nothing is installed.
set -eu
OUT=${1:-$(dirname "$0")/../examples/src/main/resources/io/djlmx/examples/digits.csv.gz}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && apt-get download python3-sklearn >/dev/null && dpkg -x python3-sklearn_*.deb x)
cp "$TMP"/x/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz "$OUT"
echo "wrote $OUT ($(zcat "$OUT" | wc -l) images)"
