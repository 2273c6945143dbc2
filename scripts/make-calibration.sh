#!/usr/bin/env bash
# Builds model-zoo/src/main/resources/io/djlmx/zoo/calibration/wordnet-glosses.txt: the English
# text the zoo's calibrated MX rounding (mx.rounding=gptq) runs through the FP32 encoders, from
# Debian's `wordnet-base` glosses (apt-get install -y wordnet-base). WordNet 3.0's licence allows
# use, copying, modification and distribution provided its copyright notice and disclaimer go
# with every copy: the script copies them into wordnet-LICENSE.txt next to the text.
# The evaluation sentences (Debian fortunes, model-zoo/src/test/resources/sentences-en.txt) are a
# different corpus; the script fails if any line of the two files is the same.
# Per part of speech, every STEP-th synset (deterministic): its first quoted usage example when it
# has one (a real sentence), else its definition; 30..200 characters, de-duplicated; $MAX lines.
set -eu
SRC=${WORDNET_DIR:-/usr/share/wordnet}
LICENSE=${WORDNET_COPYRIGHT:-/usr/share/doc/wordnet-base/copyright}
DIR=$(dirname "$0")/../model-zoo/src/main/resources/io/djlmx/zoo/calibration
OUT=${1:-$DIR/wordnet-glosses.txt}
EVAL=$(dirname "$0")/../model-zoo/src/test/resources/sentences-en.txt
MAX=${MAX:-512}
if [ ! -f "$SRC/data.noun" ]; then
  echo "no $SRC/data.noun: apt-get install -y wordnet-base" >&2
  exit 1
fi
mkdir -p "$(dirname "$OUT")"
{
  # per POS: noun 256, verb 96, adj 112, adv 48 lines (sum 512), spread evenly over each file
  for spec in noun:256 verb:96 adj:112 adv:48; do
    pos=${spec%%:*}; want=${spec##*:}
    want=$(( want * MAX / 512 ))
    total=$(grep -c '^[0-9]' "$SRC/data.$pos")
    awk -v step=$(( total / (want * 3) + 1 )) -v want="$want" '
      /^[0-9]/ {
        if (n++ % step != 0 || done >= want) next
        g = $0; sub(/^[^|]*\| */, "", g); sub(/ +$/, "", g)
        text = ""
        if (match(g, /"[^"]+"/)) { text = substr(g, RSTART + 1, RLENGTH - 2) }
        else { text = g; sub(/;.*/, "", text); text = toupper(substr(text, 1, 1)) substr(text, 2) "." }
        gsub(/[ \t]+/, " ", text)
        if (length(text) >= 30 && length(text) <= 200 && !(text in seen)) {
          seen[text] = 1; print text; done++
        }
      }' "$SRC/data.$pos"
  done
} > "$OUT.tmp"
if [ -f "$EVAL" ] && grep -qxFf "$OUT.tmp" "$EVAL"; then
  echo "calibration text overlaps the evaluation sentences $EVAL" >&2
  rm -f "$OUT.tmp"
  exit 1
fi
mv "$OUT.tmp" "$OUT"
{
  echo "The calibration text wordnet-glosses.txt is made of glosses (definitions and usage"
  echo "examples) from WordNet 3.0, as packaged by Debian (wordnet-base), under this licence:"
  echo
  sed -n '/^Files: \*/,/^Files: debian/p' "$LICENSE" | sed '$d'
} > "$(dirname "$OUT")/wordnet-LICENSE.txt"
echo "wrote $(wc -l < "$OUT") lines, $(wc -c < "$OUT") bytes to $OUT"
