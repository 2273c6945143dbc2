#!/usr/bin/env bash
# Reproduces the zoo's fashion-mnist-cnn: installs Debian's dataset-fashion-mnist, trains the CNN on
# PyTorch with DJL's training API (seeded), writes the .params into model-zoo's resources and the
# 200-image test sample into model-zoo's test resources. Usage: scripts/train-fashion-mnist.sh [epochs] [seed]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=/usr/share/datasets/fashion-mnist
if [ ! -f "$DATA/train-images-idx3-ubyte.gz" ]; then
  (apt-get install -y --no-install-recommends dataset-fashion-mnist \
    || (apt-get update && apt-get install -y --no-install-recommends dataset-fashion-mnist))
fi
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
./mvnw -B -q -pl examples -am package -DskipTests -Dspotless.check.skip=true
"$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -Dai.djl.offline=true -cp "examples/target/classes:examples/target/lib/*" \
  io.djlmx.examples.train.TrainFashionMnistCnn "$DATA" \
  model-zoo/src/main/resources/io/djlmx/zoo/fashion-mnist-cnn \
  model-zoo/src/test/resources/fashion-mnist "${1:-8}" "${2:-42}"
