#!/usr/bin/env bash
# `make bench`: runs every benchmark binary of the build (bench/*.cc), one after
# another. They print figures; none fails on time.
set -euo pipefail
build=${1:-build}
status=0
for b in "$build"/bench_*; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  "$b" || status=1
  echo
done
exit $status
