#!/usr/bin/env bash
# The project's own checks, run by `make test` (and so by CI) after the tests:
# every C++ file is clang-formatted (.clang-format: Google style, 100 columns;
# `make format` fixes what this finds), and each folder of src/ includes only
# the folders its CMake target links (scripts/check_deps.py), and no two files
# of one target declare one name in their anonymous namespaces
# (scripts/check_unity_names.py: unity batches compile them together).
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
python3 scripts/check_deps.py || {
  echo "check: declare the dependency in CMakeLists.txt, or move the code to the folder that owns it" >&2
  exit 1
}
echo "check: folder dependencies ok"
python3 scripts/check_unity_names.py || {
  echo "check: rename one of each pair above (prefix it with its file's subject)" >&2
  exit 1
}
echo "check: names of anonymous namespaces ok"
