#!/usr/bin/env bash
# Benchmark: a leader frozen past its lease (SIGSTOP), as rounds (issue 13,
# §3). The parts of bench/leader_kill9.sh (PostgreSQL, three servers, two
# agents, an edge, a client applying and scaling apps, a probe through the
# edge). Each round: SIGSTOP the leader; once another server leads in a later
# epoch (the takeover, timed), note the change log's last revision and
# SIGCONT; the woken server must step down, and no change of its epoch may
# commit after that revision (counted, as test/e2e/leader_e2e_test.cc's
# frozen leader: rows of `changes` with its epoch); the fenced writes it logs
# as refused after waking are counted too. Then the checks of
# leader_kill9.sh: nothing acknowledged lost, nothing running twice, the
# edge answered every request. At the end, the retained change log is checked for any
# change of the leaders' loops at an epoch older than one committed before it.
#
# Prints a line per round, the totals and the takeover's p50/p99 (never
# judged); fails when an old epoch's change committed, or on anything
# leader_kill9.sh fails on.
#
#   bench/leader_sigstop.sh [BUILD_DIR]
#   BENCH_ROUNDS=20 BENCH_TTL=5s BENCH_DEADLINE=60 (BENCH_DEADLINE: each wait's bound)
set -euo pipefail
build=${1:-build}
source "$(dirname "$0")/lib/common.sh"
# Everything the bench starts lives under $work: an interrupted run leaves
# nothing running.
bench_contain_under_work
"$build/bench_leader_failure" sigstop "${BENCH_ROUNDS:-${ROUNDS:-20}}" "${BENCH_TTL:-5s}" "${BENCH_DEADLINE:-60}"
