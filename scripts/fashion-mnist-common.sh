# Sourced by the fashion-mnist scripts: installs Debian's dataset-fashion-mnist if missing, builds the
# examples, and defines DATA (the dataset folder) and run_java (java with the examples' class path).
DATA=/usr/share/datasets/fashion-mnist
if [ ! -f "$DATA/t10k-images-idx3-ubyte.gz" ]; then
  (apt-get install -y --no-install-recommends dataset-fashion-mnist \
    || (apt-get update && apt-get install -y --no-install-recommends dataset-fashion-mnist))
fi
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
./mvnw -B -q -pl examples -am package -DskipTests -Dspotless.check.skip=true
run_java() {
  "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
    -Dai.djl.offline=true -cp "examples/target/classes:examples/target/lib/*" "$@"
}
