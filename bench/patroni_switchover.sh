#!/usr/bin/env bash
# Benchmark: Skiff riding through a Patroni switchover and a failover (issue
# 13, §3). One etcd, three PostgreSQL 15 nodes under Patroni in strict
# synchronous mode (a commit is acknowledged only once the synchronous
# standby has it, and Patroni promotes only that standby), two `skiff server
# --no-agent --no-edge` on a multi-host connection string with
# target_session_attrs=read-write. A client writes through both servers
# without pause (each write a new app, so every acknowledged one can be
# looked for afterwards). Mid-way, `patronictl switchover` moves the primary
# to the synchronous standby (planned: the old primary stops cleanly); later
# the new primary's Patroni and PostgreSQL are killed with -9 (a failover:
# Patroni promotes the synchronous standby once the leader key expires, its
# ttl 10 s). Prints how long writes paused around each, how many were
# acknowledged and how many of those are missing (must be 0), and whether
# the leader's controller still acts. Never fails on time; fails when an
# acknowledged write is lost.
#
#   bench/patroni_switchover.sh [BUILD_DIR | SKIFF_BINARY]
#   BENCH_SECONDS=30 (a third of it before, between and after the two events)
set -euo pipefail
target=${1:-build}
if [ -d "$target" ]; then skiff=$(realpath "$target/skiff"); else skiff=$(realpath "$target"); fi
seconds=${BENCH_SECONDS:-30}
source "$(dirname "$0")/lib/common.sh"
bench_install patroni:patroni etcd:etcd-server

pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
# PostgreSQL refuses to run as root: Patroni (and so postgres) run as the
# postgres user the Debian package made.
as=(); if [ "$(id -u)" -eq 0 ]; then as=(runuser -u postgres --); fi
chmod 755 "$work"

etcd_client=$(free_port); etcd_peer=$(free_port)
etcd --name e1 --data-dir "$work/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_client" --advertise-client-urls "http://127.0.0.1:$etcd_client" \
  --listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
  --initial-cluster "e1=http://127.0.0.1:$etcd_peer" --log-level error >"$work/etcd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$etcd_client/health" >/dev/null && break; sleep 0.1; done

declare -A pgport restport
nodes=(pg1 pg2 pg3)
for n in "${nodes[@]}"; do
  pgport[$n]=$(free_port); restport[$n]=$(free_port)
  mkdir -p "$work/$n"
  cat >"$work/$n/patroni.yml" <<EOF
scope: skiff-bench
name: $n
restapi:
  listen: 127.0.0.1:${restport[$n]}
  connect_address: 127.0.0.1:${restport[$n]}
etcd3:
  hosts: 127.0.0.1:$etcd_client
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 1
    retry_timeout: 4
    synchronous_mode: true
    synchronous_mode_strict: true
    postgresql:
      use_pg_rewind: true
      parameters:
        wal_log_hints: "on"
  initdb: [{encoding: UTF8}]
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:${pgport[$n]}
  connect_address: 127.0.0.1:${pgport[$n]}
  data_dir: $work/$n/data
  bin_dir: $pgbin
  pgpass: $work/$n/pgpass
  authentication:
    superuser: {username: postgres, password: bench}
    replication: {username: replicator, password: bench}
    rewind: {username: postgres, password: bench}
  parameters:
    unix_socket_directories: $work/$n
EOF
done
chown -R postgres "$work/pg1" "$work/pg2" "$work/pg3"

start_patroni() {  # start_patroni NODE
  "${as[@]}" patroni "$work/$1/patroni.yml" >>"$work/$1/patroni.log" 2>&1 &
  pids+=($!)
}
# cluster_role NODE: the node's role as the cluster lists it (leader,
# sync_standby, replica), asked of any node's REST API that answers.
cluster_role() {
  local n
  for n in "${nodes[@]}"; do
    curl -fs --max-time 1 "http://127.0.0.1:${restport[$n]}/cluster" 2>/dev/null | python3 -c '
import json, sys
for m in json.load(sys.stdin)["members"]:
    if m["name"] == sys.argv[1]:
        print(m["role"] if m.get("state") in ("running", "streaming") else "starting")' "$1" 2>/dev/null &&
      return
  done
}
wait_role() {  # wait_role NODE ROLE: until the cluster lists NODE with ROLE
  local deadline=$((SECONDS + 120))
  until [ "$(cluster_role "$1")" = "$2" ]; do
    [ $SECONDS -lt $deadline ] || { echo "$1 never became $2:"; tail -20 "$work/$1/patroni.log"; exit 1; }
    sleep 0.2
  done
}
primary() { local n; for n in "${nodes[@]}"; do [ "$(cluster_role "$n")" = leader ] && echo "$n" && return; done; }

echo "[1/4] etcd, then Patroni on pg1 (primary), pg2 and pg3 (one of them the synchronous standby)..."
start_patroni pg1
wait_role pg1 leader
start_patroni pg2
start_patroni pg3
deadline=$((SECONDS + 120))
until [ "$(cluster_role pg2)$(cluster_role pg3)" = "sync_standbyreplica" ] ||
      [ "$(cluster_role pg2)$(cluster_role pg3)" = "replicasync_standby" ]; do
  [ $SECONDS -lt $deadline ] || { echo "the standbys never came up"; tail -5 "$work"/pg*/patroni.log; exit 1; }
  sleep 0.2
done
psql_primary() { "$pgbin/psql" -h 127.0.0.1 -p "${pgport[pg1]}" -U postgres -v ON_ERROR_STOP=1 -qc "$1"; }
psql_primary "CREATE USER skiff" && psql_primary "CREATE DATABASE skiff OWNER skiff"
conninfo="host=127.0.0.1,127.0.0.1,127.0.0.1 port=${pgport[pg1]},${pgport[pg2]},${pgport[pg3]} user=skiff dbname=skiff target_session_attrs=read-write"

echo "[2/4] two Skiff servers on '$conninfo'..."
declare -A port
servers=(s1 s2)
for s in "${servers[@]}"; do
  port[$s]=$(free_port)
  [ "$s" = s1 ] || share_trust "$work/s1" "$work/$s"
  "$skiff" server --store "$conninfo" --data "$work/$s" --listen "127.0.0.1:${port[$s]}" \
    --advertise "http://127.0.0.1:${port[$s]}" --no-agent --no-edge --server-id "$s" \
    --log-level warn >>"$work/$s.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:${port[$s]}/health" >/dev/null && continue 2; sleep 0.1; done
  echo "server $s did not start:"; cat "$work/$s.log"; exit 1
done
# Each server's admin token (a server that found the database's token made by
# another has no file of its own: then the first server's).
declare -A token
for s in "${servers[@]}"; do token[$s]=$(cat "$work/$s/admin.token" 2>/dev/null || cat "$work/s1/admin.token"); done

# The client: a new app per write, alternating servers; each line of
# $work/writes is "time_ms server name code".
client() {
  local i=0 s code
  until [ -e "$work/stop" ]; do
    i=$((i + 1)); s=${servers[$((i % 2))]}
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X PUT \
      -H "Authorization: Bearer ${token[$s]}" -H 'Content-Type: application/json' \
      "http://127.0.0.1:${port[$s]}/v1/apps/w$i" \
      --data "{\"name\":\"w$i\",\"run\":{\"command\":[\"sleep\",\"1000\"]},\"replicas\":0}") || true
    echo "$(date +%s%3N) $s w$i $code" >>"$work/writes"
  done
}

pause=$((seconds / 3))
echo "[3/4] writing; after ${pause}s a switchover, ${pause}s later kill -9 of the primary, then ${pause}s more..."
: >"$work/writes"
client &
client_pid=$!
sync_standby() { local n; for n in "${nodes[@]}"; do [ "$(cluster_role "$n")" = sync_standby ] && echo "$n" && return; done; }
: >"$work/events"
sleep "$pause"
from=$(primary); to=$(sync_standby)
t0=$(date +%s%3N)
patronictl -c "$work/pg1/patroni.yml" switchover skiff-bench --leader "$from" --candidate "$to" --force \
  >>"$work/switchover.log" 2>&1 || { echo "patronictl switchover failed:"; cat "$work/switchover.log"; exit 1; }
wait_role "$to" leader
t1=$(date +%s%3N)
echo "$t0 $t1 switchover $from->$to" >>"$work/events"
echo "      switchover $from -> $to: patronictl done, $to leads after $((t1 - t0)) ms"
# Until the old primary is back as a standby and a synchronous standby is named.
deadline=$((SECONDS + 120))
until [ -n "$(sync_standby)" ] && [ "$(cluster_role "$from")" != starting ] && [ -n "$(cluster_role "$from")" ]; do
  [ $SECONDS -lt $deadline ] || { echo "no synchronous standby after the switchover"; exit 1; }
  sleep 0.2
done
sleep "$pause"
from=$(primary); to=$(sync_standby)
t0=$(date +%s%3N)
postmaster=$(head -1 "$work/$from/data/postmaster.pid")
# Patroni itself, not the runuser in front of it, and its PostgreSQL.
kill -9 $(pgrep -f "patroni $work/$from/patroni.yml") "$postmaster"
wait_role "$to" leader
t1=$(date +%s%3N)
echo "$t0 $t1 failover $from->$to" >>"$work/events"
echo "      kill -9 of $from (Patroni and PostgreSQL): $to leads after $((t1 - t0)) ms"
sleep "$pause"; touch "$work/stop"
wait "$client_pid"

echo "[4/4] checking every acknowledged write, and that the leader still acts..."
curl -fsS -H "Authorization: Bearer ${token[s1]}" "http://127.0.0.1:${port[s1]}/v1/apps" >"$work/apps.json"
curl -fsS -X PUT -H "Authorization: Bearer ${token[s2]}" -H 'Content-Type: application/json' \
  "http://127.0.0.1:${port[s2]}/v1/apps/after" \
  --data '{"name":"after","run":{"command":["sleep","1000"]},"replicas":3}' >/dev/null
acted=no
for _ in $(seq 200); do
  n=$(curl -fs -H "Authorization: Bearer ${token[s1]}" "http://127.0.0.1:${port[s1]}/v1/apps/after/instances" | grep -o '"id":' | wc -l)
  [ "$n" -eq 3 ] && acted=yes && break
  sleep 0.05
done
python3 - "$work/writes" "$work/events" "$work/apps.json" "$acted" <<'PY'
import json, sys
writes = [l.split() for l in open(sys.argv[1]) if l.strip()]
switches = [l.split() for l in open(sys.argv[2]) if l.strip()]
doc = json.load(open(sys.argv[3]))
apps = doc if isinstance(doc, list) else doc.get("items", doc.get("apps", []))
present = {a["name"] for a in apps}
acked = [w for w in writes if w[3].startswith("2")]
failed = [w for w in writes if not w[3].startswith("2")]
lost = [w[2] for w in acked if w[2] not in present]
print(f"writes: {len(writes)}, acknowledged {len(acked)}, refused or failed {len(failed)} "
      f"(codes: {sorted(set(w[3] for w in failed))}), acknowledged but missing: {len(lost)}")
times = sorted(int(w[0]) for w in acked)
for t0, t1, what, move in switches:
    t0, t1 = int(t0), int(t1)
    # The outage: the longest gap between two acknowledged writes that
    # overlaps the event (from its start until the new primary leads).
    gaps = [y - x for x, y in zip(times, times[1:]) if y >= t0 and x <= t1]
    near = sum(1 for w in failed if t0 <= int(w[0]) <= t1 + 10000)
    print(f"{what} {move.replace('->', ' -> ')}: writes paused {max(gaps) if gaps else 0} ms "
          f"(longest gap between acknowledged writes), {near} failed")
print(f"the leader's controller acted after both: {sys.argv[4]}")
sys.exit(1 if lost or sys.argv[4] != "yes" else 0)
PY
