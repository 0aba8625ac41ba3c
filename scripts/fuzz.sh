#!/usr/bin/env bash
# `make fuzz`: builds each fuzz target (fuzz/*_fuzz.cc) with clang, libFuzzer,
# AddressSanitizer and UndefinedBehaviorSanitizer, runs it for FUZZ_SECONDS
# (default 60) on its corpus, then merges what it found into the committed
# corpus (fuzz/corpus/<target>/, kept minimal). A crash stops with the input
# saved as crash-* in the current directory.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
out=build-fuzz
mkdir -p "$out"
command -v clang++ >/dev/null || { echo "fuzz: needs clang++ (apt-get install clang)" >&2; exit 1; }
for target in fuzz/*_fuzz.cc; do
  name=$(basename "$target" _fuzz.cc)
  # The sources a target reaches; each target names them in its first include
  # lines (net/ and edge/ headers; a header-only one has no .cc).
  sources=$(grep -oE '#include "(net|edge)/[a-z0-9_]*\.h"' "$target" |
    sed -E 's/#include "(.*)\.h"/src\/\1.cc/' | while read -r s; do [[ ! -f $s ]] || echo "$s"; done)
  echo "fuzz: building $name"
  clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -Isrc "$target" $sources -o "$out/$name"
  corpus=fuzz/corpus/$name
  mkdir -p "$out/$name-new"
  echo "fuzz: running $name for ${seconds}s"
  "$out/$name" -max_total_time="$seconds" -max_len=4096 "$out/$name-new" "$corpus"
  echo "fuzz: merging new inputs into $corpus"
  "$out/$name" -merge=1 "$corpus" "$out/$name-new" 2>&1 | tail -1
done
