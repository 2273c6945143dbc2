#!/usr/bin/env bash
# Writes docs/ACCURACY-cnn.md: top-1 of the zoo's fashion-mnist-cnn per MX format on the 10,000
# Fashion-MNIST test images (Debian dataset-fashion-mnist, installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=/usr/share/datasets/fashion-mnist
if [ ! -f "$DATA/t10k-images-idx3-ubyte.gz" ]; then
  (apt-get install -y --no-install-recommends dataset-fashion-mnist \
    || (apt-get update && apt-get install -y --no-install-recommends dataset-fashion-mnist))
fi
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
./mvnw -B -q -pl examples -am package -DskipTests -Dspotless.check.skip=true
"$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -Dai.djl.offline=true -cp "examples/target/classes:examples/target/lib/*" \
  io.djlmx.examples.train.FashionMnistAccuracy "$DATA" docs/ACCURACY-cnn.md
