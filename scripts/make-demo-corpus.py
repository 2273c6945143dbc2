#!/usr/bin/env python3
"""Builds the demo corpus examples/src/main/resources/io/djlmx/examples/wordnet-glosses.tsv.

Source: Debian's `wordnet-base` package (apt-get install -y wordnet-base), WordNet 3.0 by Princeton
University, under the WordNet 3.0 licence (permissive; text in /usr/share/doc/wordnet-base/copyright
and reproduced in the output's header lines). Each output line is `word<TAB>definition`: the most
frequent noun sense (by WordNet's sense-tagged corpus counts, cntlist.rev) of the most frequent
single-word nouns, one entry per word, the definition without its usage examples. A reverse dictionary
(describe a thing, find its word) is the demo's semantic search.

Usage: scripts/make-demo-corpus.py [OUT] [MAX]   (defaults: the resource above, 1000 entries)
"""
import os
import sys

WN = os.environ.get("WORDNET_DIR", "/usr/share/wordnet")
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    HERE, "..", "examples", "src", "main", "resources", "io", "djlmx", "examples",
    "wordnet-glosses.tsv")
MAX = int(sys.argv[2]) if len(sys.argv) > 2 else 1000

if not os.path.isfile(os.path.join(WN, "data.noun")):
    sys.exit(f"no {WN}/data.noun: apt-get install -y wordnet-base")

# sense key -> tag count
counts = {}
with open(os.path.join(WN, "cntlist.rev"), encoding="latin-1") as f:
    for line in f:
        key, _, cnt = line.split()
        counts[key] = int(cnt)

best = {}  # word -> (count, definition)
with open(os.path.join(WN, "data.noun"), encoding="latin-1") as f:
    for line in f:
        if line.startswith("  "):
            continue  # licence header
        head, _, gloss = line.partition(" | ")
        fields = head.split()
        lex_file = int(fields[1])
        n_words = int(fields[3], 16)
        definition = gloss.split(";")[0].strip()
        if not definition or '"' in definition or len(definition) < 20:
            continue
        for i in range(n_words):
            word = fields[4 + 2 * i]
            lex_id = int(fields[5 + 2 * i], 16)
            if not word.isalpha() or not word.islower() or len(word) < 3:
                continue
            key = f"{word}%1:{lex_file:02d}:{lex_id:02d}::"
            c = counts.get(key, 0)
            if c > best.get(word, (0, ""))[0]:
                best[word] = (c, definition)

ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))[:MAX]
ranked.sort(key=lambda kv: kv[0])
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w", encoding="utf-8") as out:
    out.write("# WordNet 3.0 noun definitions (word<TAB>definition), built by scripts/make-demo-corpus.py\n")
    out.write("# from Debian wordnet-base. WordNet 3.0 Copyright 2006 by Princeton University. All rights\n")
    out.write("# reserved. Licence: WordNet 3.0 (see /usr/share/doc/wordnet-base/copyright): permission to\n")
    out.write("# use, copy, modify and distribute for any purpose and without fee is granted, provided this\n")
    out.write("# notice appears on all copies. THE DATABASE IS PROVIDED \"AS IS\" WITHOUT WARRANTIES.\n")
    for word, (_, definition) in ranked:
        out.write(f"{word}\t{definition}\n")
print(f"wrote {len(ranked)} entries to {os.path.normpath(OUT)}")
