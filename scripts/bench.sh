#!/usr/bin/env bash
# `make bench`: runs every benchmark of the build (bench/*.cc binaries, then the
# bench/*.sh scripts), one after another. They print figures; none fails on time.
set -euo pipefail
build=${1:-build}
status=0
for b in "$build"/bench_*; do
  [ -x "$b" ] || continue
  # A load generator, a proxy and the leader's failures the scripts drive
  # (bench/leader_kill9.sh, leader_sigstop.sh), not benchmarks of their own.
  case "$(basename "$b")" in bench_fixed_rate | bench_uring_probe | bench_leader_failure) continue ;; esac
  echo "== $(basename "$b")"
  "$b" || status=1
  echo
done
# Benchmarks that drive other programs (wrk, HAProxy, nginx) are scripts.
for b in bench/*.sh; do
  echo "== $(basename "$b")"
  bash "$b" "$build" || status=1
  echo
done
exit $status
