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

need=()
for tool in wrk:wrk nginx:nginx-light; do
  command -v "${tool%%:*}" >/dev/null || need+=("${tool##*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "[setup] installing ${need[*]}"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  pkill -f "$work/" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
api=$(free_port); edge=$(free_port)

echo "[1/4] starting skiff server and $replicas nginx replicas (revision 1)..."
"$skiff" server --data "$work/data" --listen "127.0.0.1:$api" --edge-listen "127.0.0.1:$edge" \
  --ports 42000-42999 --log-level warn >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$api/health" >/dev/null 2>&1 && break; sleep 0.1; done
export SKIFF_ADDR="http://127.0.0.1:$api" SKIFF_TOKEN=$(cat "$work/data/admin.token")

mkdir -p "$work/app"
cat >"$work/app/nginx.conf.in" <<EOF
worker_processes 1;
daemon off;
pid $work/app/nginx-PORT.pid;
error_log stderr error;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/app; proxy_temp_path $work/app;
  fastcgi_temp_path $work/app; uwsgi_temp_path $work/app; scgi_temp_path $work/app;
  keepalive_requests 1000000;
  server { listen HOST:PORT; location / { return 200 "revision REV\n"; } }
}
EOF
spec() {
  cat <<EOF
name: rolling
run:
  command: ["/bin/sh", "-c", "sed -e s/HOST/\${HOST}/ -e s/PORT/\${PORT}/ -e s/REV/\${REV}/ $work/app/nginx.conf.in > $work/app/nginx-\${PORT}.conf && exec nginx -c $work/app/nginx-\${PORT}.conf"]
env: {REV: "$1"}
replicas: $replicas
domains: [rolling.bench]
health: {type: http, path: /, interval: 500ms, timeout: 500ms}
update: {strategy: rolling, max_surge: 1, max_unavailable: 0, min_healthy_time: 1s}
EOF
}
spec 1 >"$work/v1.yaml"
spec 2 >"$work/v2.yaml"
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
