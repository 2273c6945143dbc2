# Sourced by the tiny-lm scripts: unpacks the fortune files of Debian's fortunes and fortunes-min
# packages (BSD licence; `apt-get download`, no root, nothing installed) unless they are installed,
# builds the examples, and defines CORPUS (the fortune directory) and run_java.
CORPUS=${TINYLM_CORPUS:-}
if [ -z "$CORPUS" ]; then
  if [ -f /usr/share/games/fortunes/fortunes ] && [ -f /usr/share/games/fortunes/computers ]; then
    CORPUS=/usr/share/games/fortunes
  else
    CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/djl-mx/fortunes
    CORPUS=$CACHE/usr/share/games/fortunes
    if [ ! -f "$CORPUS/computers" ]; then
      TMP=$(mktemp -d)
      (cd "$TMP" && apt-get download fortunes fortunes-min >/dev/null 2>&1 \
        || (apt-get update >/dev/null && apt-get download fortunes fortunes-min >/dev/null))
      mkdir -p "$CACHE"
      for deb in "$TMP"/*.deb; do dpkg -x "$deb" "$CACHE"; done
      rm -rf "$TMP"
    fi
  fi
fi
echo "fortune corpus: $CORPUS"
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
./mvnw -B -q -pl examples -am package -DskipTests -Dspotless.check.skip=true
run_java() {
  "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
    -Dai.djl.offline=true -cp "examples/target/classes:examples/target/lib/*" "$@"
}
