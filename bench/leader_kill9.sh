#!/usr/bin/env bash
# Benchmark: kill -9 of the leader under load, as rounds (issue 13, §3 and
# §4). A PostgreSQL 15 of its own (initdb in a temp dir, as `nobody` when run
# as root: the tests' PostgresServer), three `skiff server --no-agent
# --no-edge` on it with the default --leader-ttl (5 s) unless BENCH_TTL says
# otherwise, two standalone `skiff agent`s (127.0.0.2, 127.0.0.3) and a
# standalone `skiff edge`, given every server's URL. Each round a client
# applies and scales apps through every server (the leader first) and a probe
# asks the edge for an app deployed before, without pause; the leader is
# killed with -9 at a random moment; an app applied through a survivor right
# after is timed until the new leader's controller placed its instance (its
# first action) and until the edge serves it; the killed server is restarted
# as a follower. Then every acknowledged write must be on a surviving server,
# each app must run exactly its replicas (as listed and as live processes, no
# instance id twice), and the edge must have answered every request.
#
# Prints a line per round, the totals (acknowledged, lost, duplicates, edge
# failures) and the failover's p50/p99 (never judged); fails when anything is
# lost or duplicated, an app does not converge, the edge failed a request, or
# a round does not end within BENCH_DEADLINE seconds.
#
# What bounds the failover from below: the dead leader's lease must run out by
# the database's clock (bench/failover.sh): between 2/3 of the ttl and the ttl.
#
#   bench/leader_kill9.sh [BUILD_DIR]
#   BENCH_ROUNDS=100 BENCH_TTL=5s BENCH_DEADLINE=60 (BENCH_DEADLINE: each wait's bound)
set -euo pipefail
build=${1:-build}
source "$(dirname "$0")/lib/common.sh"
# Everything the bench starts lives under $work: an interrupted run leaves
# nothing running.
bench_contain_under_work
"$build/bench_leader_failure" kill9 "${BENCH_ROUNDS:-${ROUNDS:-100}}" "${BENCH_TTL:-5s}" "${BENCH_DEADLINE:-60}"
