#!/usr/bin/env bash
# Benchmark: a rolling update of 10 replicas under load through Skiff's edge.
# The app is nginx deployed as a Skiff app (10 replicas, each answering its
# revision); wrk drives the all-in-one server's edge with keep-alive
# connections while `skiff apply` rolls out a new revision with the default
# update policy (max_surge 1, max_unavailable 0; min_healthy_time 1s here).
# Prints the requests, the rate, the non-2xx answers and socket errors (target
# 0) and how long the rollout took; never fails on time. Traffic stays on
# 127.0.0.1.
#
#   bench/rolling_update.sh [BUILD_DIR]      (make bench runs it)
set -euo pipefail
build=${1:-build}
skiff=$(realpath "$build/skiff")
connections=${BENCH_CONNECTIONS:-32}
replicas=${BENCH_REPLICAS:-10}

source "$(dirname "$0")/lib/common.sh"
bench_install wrk:wrk nginx:nginx-light

api=$(free_port); edge=$(free_port)

echo "[1/4] starting skiff server and $replicas nginx replicas (revision 1)..."
start_skiff_server "$skiff" "$api" "$edge" 42000-42999
command_1=$(nginx_app "$work/app1" "revision 1")
command_2=$(nginx_app "$work/app2" "revision 2")
spec() {  # spec RUN_COMMAND
  cat <<EOF
name: rolling
run:
  command: $1
replicas: $replicas
domains: [rolling.bench]
health: {type: http, path: /, interval: 500ms, timeout: 500ms}
update: {strategy: rolling, max_surge: 1, max_unavailable: 0, min_healthy_time: 1s}
EOF
}
spec "$command_1" >"$work/v1.yaml"
spec "$command_2" >"$work/v2.yaml"
"$skiff" apply -f "$work/v1.yaml" --timeout 120 >/dev/null

echo "[2/4] wrk: 1 thread, $connections connections through the edge..."
wrk -t1 -c"$connections" -d600s -H 'Host: rolling.bench' "http://127.0.0.1:$edge/" \
  >"$work/wrk.txt" 2>&1 &
wrk_pid=$!
pids+=($wrk_pid)
sleep 3

echo "[3/4] rolling out revision 2 under load..."
start=$(date +%s.%N)
"$skiff" apply -f "$work/v2.yaml" --timeout 300 | sed 's/^/  /'
healthy=$(date +%s.%N)
# Done when only revision 2 runs: every old instance drained and stopped.
for _ in $(seq 600); do
  left=$("$skiff" status rolling -o json | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(sum(1 for i in s["instances"] if i["revision"] != 2))')
  [ "$left" = 0 ] && break
  sleep 0.1
done
done_at=$(date +%s.%N)
sleep 2
kill -INT "$wrk_pid"
wait "$wrk_pid" || true

echo "[4/4] results"
python3 - "$work/wrk.txt" "$start" "$healthy" "$done_at" "$replicas" "$connections" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
start, healthy, done = (float(x) for x in sys.argv[2:5])
replicas, connections = sys.argv[5], sys.argv[6]
def grab(pattern, default="0"):
    m = re.search(pattern, text)
    return m.group(1) if m else default
total = int(grab(r"(\d+) requests in"))
rate = float(grab(r"Requests/sec:\s+([\d.]+)"))
non2xx = int(grab(r"Non-2xx or 3xx responses:\s+(\d+)"))
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
errors = sum(int(x) for x in sock.groups()) if sock else 0
print(f"rolling update of {replicas} replicas through the edge, wrk 1 thread x {connections} connections")
print(f"  requests:        {total:,} at {rate:,.0f} req/s (target >= 5,000 req/s)")
print(f"  non-2xx answers: {non2xx} (target 0)")
print(f"  socket errors:   {errors} (target 0){'' if not sock else '  ' + sock.group(0)}")
print(f"  rollout:         {healthy - start:.1f} s to revision 2 healthy, "
      f"{done - start:.1f} s until the last old instance stopped")
if total == 0:
    print(text)
PY
