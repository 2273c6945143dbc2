#!/usr/bin/env bash
# Builds model-zoo/src/test/resources/sentences-en.txt: real English sentences for the zoo's
# accuracy tests and `mx eval embeddings`, from Debian's `fortunes` package
# (apt-get install -y fortunes; its licence: /usr/share/doc/fortunes/copyright, BSD-style).
# Each line is one fortune joined onto one line, attribution lines dropped, 40..240 characters,
# mostly letters, de-duplicated, in file order; at most $MAX (default 2000) lines.
set -eu
SRC=${FORTUNES_DIR:-/usr/share/games/fortunes}
OUT=${1:-$(dirname "$0")/../model-zoo/src/test/resources/sentences-en.txt}
MAX=${MAX:-2000}
FILES="computers education food fortunes goedel humorists law literature love magic medicine \
men-women miscellaneous news people pets platitudes politics riddles science songs-poems \
sports wisdom work"
if [ ! -d "$SRC" ]; then
  echo "no $SRC: apt-get install -y fortunes" >&2
  exit 1
fi
for f in $FILES; do
  [ -f "$SRC/$f" ] && cat "$SRC/$f" && echo '%'
done | awk -v max="$MAX" '
  /^%$/ {
    gsub(/[ \t]+/, " ", buf); sub(/^ /, "", buf); sub(/ $/, "", buf)
    n = length(buf); letters = buf; gsub(/[^A-Za-z ]/, "", letters)
    if (n >= 40 && n <= 240 && length(letters) >= 0.85 * n && !(buf in seen)) {
      seen[buf] = 1; print buf; if (++count >= max) exit
    }
    buf = ""; next
  }
  /^[ \t]*(--|-- |~~)/ { next }
  { buf = buf " " $0 }
' > "$OUT"
echo "wrote $(wc -l < "$OUT") sentences, $(wc -c < "$OUT") bytes to $OUT"
