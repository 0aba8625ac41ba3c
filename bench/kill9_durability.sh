#!/usr/bin/env bash
# Benchmark: acknowledged writes survive kill -9 of a single SQLite server
# (issue 13, §3). Each round: start `skiff server --no-agent --no-edge` on the
# same data dir, let a client write (a new app per write) and scale (one app's
# replicas, each acknowledged count remembered) without pause, kill -9 the
# server at a random moment, start it again and check that every acknowledged
# app is there and the scaled app has at least the last acknowledged count's
# revision (its replicas equal to it, or to a later unacknowledged one).
# Prints each round's counts and the totals; fails when a write is lost.
#
#   bench/kill9_durability.sh [BUILD_DIR | SKIFF_BINARY]
#   BENCH_ROUNDS=200
set -euo pipefail
target=${1:-build}
if [ -d "$target" ]; then skiff=$(realpath "$target/skiff"); else skiff=$(realpath "$target"); fi
rounds=${BENCH_ROUNDS:-200}
source "$(dirname "$0")/lib/common.sh"

port=$(free_port)
pid=""
start_server() {
  "$skiff" server --data "$work/data" --listen "127.0.0.1:$port" --no-agent --no-edge \
    --log-level warn >>"$work/server.log" 2>&1 &
  pid=$!
  pids=("$pid")  # only the live server: a killed one's pid may be reused
  for _ in $(seq 200); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && return; sleep 0.02; done
  echo "the server did not start:"; tail -20 "$work/server.log"; exit 1
}
api() {  # api METHOD PATH [BODY]: prints the HTTP status (000: no answer)
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X "$1" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' "http://127.0.0.1:$port$2" ${3:+--data "$3"} || true
}
spec() { echo "{\"name\":\"$1\",\"run\":{\"command\":[\"sleep\",\"1000\"]},\"replicas\":$2}"; }

start_server
token=$(cat "$work/data/admin.token")
[ "$(api PUT /v1/apps/scaled "$(spec scaled 0)")" = 201 ]
echo "[setup] SQLite server (--no-agent --no-edge), $rounds rounds of kill -9 under writes"

# The client: one keep-alive connection, writing until the server stops
# answering; each acknowledged write is a line of $work/acked ("app NAME" or
# "scale N"), flushed before the next write.
client() {  # client ROUND
  python3 - "$port" "$token" "$1" "$work/acked" <<'PY'
import http.client, json, sys
port, token, rnd, path = sys.argv[1:]
conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=5)
headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
def send(method, url, body):
    conn.request(method, url, json.dumps(body), headers)
    r = conn.getresponse()
    r.read()
    return r.status
with open(path, "a") as out:
    i = 0
    try:
        while True:
            i += 1
            name = f"r{rnd}w{i}"
            if send("PUT", "/v1/apps/" + name, {"name": name, "run": {"command": ["sleep", "1000"]}, "replicas": 0}) == 201:
                out.write(f"app {name}\n"); out.flush()
            if send("POST", "/v1/apps/scaled/scale", {"replicas": i % 1000}) == 201:
                out.write(f"scale {i % 1000}\n"); out.flush()
    except (OSError, http.client.HTTPException):
        pass  # the server is gone
PY
}

: >"$work/acked"
total_apps=0; total_scales=0; lost=0
for round in $(seq "$rounds"); do
  client "$round" &
  client_pid=$!
  # Once the client writes (its start is slow on a busy machine), a random
  # moment later.
  for _ in $(seq 500); do [ -s "$work/acked" ] && break; sleep 0.02; done
  [ -s "$work/acked" ] || { echo "round $round: no write was acknowledged within 10 s"; tail -5 "$work/server.log"; exit 1; }
  sleep "0.$((RANDOM % 5))$((RANDOM % 10))"
  kill -9 "$pid"
  wait "$pid" 2>/dev/null || true
  wait "$client_pid" 2>/dev/null || true
  start_server
  # Every acknowledged app exists; the scaled app's replicas are the last
  # acknowledged count or a later one the client sent (unacknowledged: the
  # kill may have come between the commit and the answer).
  curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$port/v1/apps" >"$work/apps.json"
  read -r missing replicas < <(python3 - "$work/apps.json" "$work/acked" <<'PY'
import json, sys
apps = json.load(open(sys.argv[1]))["apps"]
present = {a["name"] for a in apps}
acked = [l.split() for l in open(sys.argv[2]) if l.strip()]
missing = sum(1 for kind, name in acked if kind == "app" and name not in present)
print(missing, next(a["spec"]["replicas"] for a in apps if a["name"] == "scaled"))
PY
  )
  last_scale=$(awk '$1 == "scale" {n = $2} END {print n}' "$work/acked")
  # A later write than the last acknowledged one may have committed: its
  # count is the client's next one, so only an older count is a loss.
  scale_lost=0
  if [ -n "$last_scale" ] && [ "$replicas" -ne "$last_scale" ] && [ "$replicas" -ne $(((last_scale + 1) % 1000)) ]; then
    scale_lost=1
  fi
  a=$(grep -c '^app ' "$work/acked" || true); s=$(grep -c '^scale ' "$work/acked" || true)
  total_apps=$((total_apps + a)); total_scales=$((total_scales + s)); lost=$((lost + missing + scale_lost))
  echo "round $round: $a apps and $s scales acknowledged before kill -9; missing after restart: $missing apps, scale lost: $scale_lost"
  : >"$work/acked"
done
echo "kill -9 durability (SQLite), $rounds rounds: $total_apps apps and $total_scales scales acknowledged, $lost lost"
[ "$lost" -eq 0 ]
