#!/usr/bin/env bash
# The project's own checks, run by `make test` (and so by CI) after the tests:
# every C++ file is clang-formatted (.clang-format: Google style, 100 columns).
# `make format` fixes what this finds.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.cc' '*.h' 2>/dev/null || find src test bench -name '*.cc' -o -name '*.h')
if ! clang-format --dry-run --Werror $files 2>/tmp/skiff-format.$$; then
  grep -E '^[^ ].*: (error|warning):' /tmp/skiff-format.$$ | cut -d: -f1 | sort -u |
    sed 's/^/check: not clang-formatted: /'
  rm -f /tmp/skiff-format.$$
  echo "check: run 'make format' and commit the result" >&2
  exit 1
fi
rm -f /tmp/skiff-format.$$
echo "check: formatting ok"

# Folders that must not reach into others (the CMake targets say the same at
# link time; headers would still be found): the edge routes by
# protocol::RouteSet and never sees a store.
if grep -rln '#include "store/' src/edge; then
  echo "check: src/edge includes store/ (build a protocol::RouteSet instead)" >&2
  exit 1
fi
echo "check: layering ok"
