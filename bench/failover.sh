#!/usr/bin/env bash
# Benchmark: failover of the leader (issue 13, §4). A PostgreSQL 15 of its
# own (initdb in a temp dir, a unix socket only), three `skiff server
# --no-agent --no-edge` on it with the default --leader-ttl (5 s) unless
# BENCH_TTL says otherwise. Each round: kill -9 the leader, at once scale the
# app up through a surviving server, and time until the new leader's
# controller has acted on it (the app's instances reach the new count: its
# first reconcile); then restart the killed server as a follower. Prints each
# round and p50/p99; never fails on them.
#
# What bounds it from below: the dead leader's lease must run out by the
# database's clock. It renewed every ttl/3, so at the kill between 2/3 ttl and
# the whole ttl is left; the followers try again right when the database said
# it expires. So the figure is ttl - (time since the last renewal, uniform in
# [0, ttl/3]) + the new loops' start and first pass (milliseconds): about 2/3
# ttl to ttl, and p99 close to the ttl.
#
# A round that does not end within BENCH_DEADLINE seconds (default 60: many
# ttls) fails the run, with the servers' last log lines.
#
#   bench/failover.sh [BUILD_DIR | SKIFF_BINARY]
#   BENCH_ROUNDS=20 BENCH_TTL=5s BENCH_DEADLINE=60
set -euo pipefail
target=${1:-build}
if [ -d "$target" ]; then skiff=$(realpath "$target/skiff"); else skiff=$(realpath "$target"); fi
rounds=${BENCH_ROUNDS:-20}
ttl=${BENCH_TTL:-5s}
deadline_s=${BENCH_DEADLINE:-60}
source "$(dirname "$0")/lib/common.sh"

# PostgreSQL: as root, initdb and postgres refuse to run; they run as nobody.
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as=(); if [ "$(id -u)" -eq 0 ]; then as=(runuser -u nobody --); fi
mkdir -p "$work/pg"
chmod 755 "$work"
[ ${#as[@]} -gt 0 ] && chown nobody "$work/pg"
"${as[@]}" "$pgbin/initdb" -D "$work/pg/data" -U skiff --auth trust >"$work/initdb.log" 2>&1
"${as[@]}" "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
  -o "-k $work/pg -c listen_addresses=''" start >/dev/null
stop_pg() { "${as[@]}" "$pgbin/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true; }
trap 'stop_pg; bench_cleanup' EXIT
"$pgbin/createdb" -h "$work/pg" -U skiff skiff
conninfo="host=$work/pg user=skiff dbname=skiff"

declare -A port pid
start_server() {  # start_server ID
  [ "$1" = s1 ] || share_trust "$work/s1" "$work/$1"
  "$skiff" server --store "$conninfo" --data "$work/$1" --listen "127.0.0.1:${port[$1]}" \
    --no-agent --no-edge --server-id "$1" --leader-ttl "$ttl" --log-level warn \
    >>"$work/$1.log" 2>&1 &
  pid[$1]=$!
  pids+=(${pid[$1]})
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:${port[$1]}/health" >/dev/null && return; sleep 0.1; done
  echo "server $1 did not start:"; cat "$work/$1.log"; exit 1
}
api() {  # api ID METHOD PATH [BODY]
  curl -fsS -X "$2" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' "http://127.0.0.1:${port[$1]}$3" ${4:+--data "$4"}
}
leads() { curl -fs --max-time 1 "http://127.0.0.1:${port[$1]}/health" | grep -q '"leader":true'; }
instances() { api "$1" GET /v1/apps/bench/instances | grep -o '"id":' | wc -l; }

ids=(s1 s2 s3)
for id in "${ids[@]}"; do port[$id]=$(free_port); start_server "$id"; done
# The first server made the admin token; the others share it (and write none).
token=$(cat "$work/s1/admin.token")
echo "[setup] PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}'), servers ${ids[*]}, leader ttl $ttl, $rounds rounds"
api s1 PUT /v1/apps/bench '{"name":"bench","run":{"command":["sleep","1000"]},"replicas":0}' >/dev/null

replicas=0
: >"$work/times"
for round in $(seq "$rounds"); do
  leader=""
  for _ in $(seq 200); do
    for id in "${ids[@]}"; do leads "$id" && leader=$id && break; done
    [ -n "$leader" ] && break
    sleep 0.05
  done
  [ -n "$leader" ] || { echo "no leader"; exit 1; }
  survivor=""
  for id in "${ids[@]}"; do [ "$id" != "$leader" ] && survivor=$id && break; done
  # The leader is settled (its loops ran on the last scale): kill it mid-term.
  sleep "0.$((RANDOM % 10))"
  replicas=$((replicas + 1))
  kill -9 "${pid[$leader]}"
  t0=$(date +%s%N)
  api "$survivor" POST /v1/apps/bench/scale "{\"replicas\":$replicas}" >/dev/null
  deadline=$((t0 + deadline_s * 1000000000))
  until [ "$(instances "$survivor")" -eq "$replicas" ]; do
    if [ "$(date +%s%N)" -gt "$deadline" ]; then
      echo "round $round: no new leader reconciled within ${deadline_s} s of killing $leader" \
        "(instances: $(instances "$survivor") of $replicas); the servers' logs:"
      for id in "${ids[@]}"; do echo "--- $id"; tail -20 "$work/$id.log"; done
      exit 1
    fi
    sleep 0.01
  done
  t1=$(date +%s%N)
  ms=$(((t1 - t0) / 1000000))
  echo "$ms" >>"$work/times"
  echo "round $round: leader $leader killed -> the new leader reconciled in ${ms} ms"
  wait "${pid[$leader]}" 2>/dev/null || true
  start_server "$leader"
done
python3 - "$work/times" "$ttl" <<'PY'
import sys
ms = sorted(int(l) for l in open(sys.argv[1]) if l.strip())
def q(p):
    return ms[min(len(ms) - 1, int(round(p / 100 * (len(ms) - 1))))]
print(f"failover (kill -9 of the leader -> the new leader's first reconcile), ttl {sys.argv[2]}, "
      f"{len(ms)} rounds: p50 {q(50)} ms, p99 {q(99)} ms, min {ms[0]} ms, max {ms[-1]} ms")
PY
