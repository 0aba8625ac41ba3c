#!/usr/bin/env bash
# Benchmark: what an agent costs while its instances idle. One `skiff server
# --no-agent` and one `skiff agent` (process driver) on this machine; the app
# is `sleep` with `health: none`, as a new user would try it. For each count
# (100, 500, 1000 by default) it scales the app to that many replicas, waits
# until all run, lets the agent settle, then measures the agent process over a
# window: CPU as % of one core (utime + stime from /proc/PID/stat), resident
# memory (VmRSS) and threads. At the end it scales to 0 and times how long
# the stops take. Targets (issue 12): 500 idle instances <= 1 % of one core
# and <= 25 MB RSS; 1,000 instances start, run and stop. Prints figures; never
# fails on them. Traffic stays on 127.0.0.1.
#
#   bench/idle_agent.sh [BUILD_DIR | SKIFF_BINARY]
#   BENCH_COUNTS="100 500 1000" BENCH_WINDOW=20 (seconds) BENCH_SETTLE=10 (seconds)
#   BENCH_AGENT=BINARY: run the agent as `BINARY agent ...` instead (to compare
#   two builds' agents against one server)
#   BENCH_DRIVER=docker: the agent runs containers instead, on the engine of
#   BENCH_DOCKER_HOST (default: the tests' private dockerd, scripts/dockerd.sh),
#   each the project's idle test app (an image built FROM scratch, host
#   networking on 127.0.0.1, `health: none`)
set -euo pipefail
target=${1:-build}
if [ -d "$target" ]; then skiff=$(realpath "$target/skiff"); else skiff=$(realpath "$target"); fi
counts=${BENCH_COUNTS:-100 500 1000}
window=${BENCH_WINDOW:-20}
settle=${BENCH_SETTLE:-10}
agent_bin=$(realpath "${BENCH_AGENT:-$skiff}")

driver=${BENCH_DRIVER:-process}
source "$(dirname "$0")/lib/common.sh"

driver_flags=(--driver process)
if [ "$driver" = docker ]; then
  docker_host=${BENCH_DOCKER_HOST:-$(bash "$(dirname "$0")/../scripts/dockerd.sh")}
  sock=${docker_host#unix://}
  driver_flags=(--driver docker --docker-host "$docker_host")
  # The image: the static test app alone, FROM scratch.
  mkdir -p "$work/image"
  cp "$(dirname "$skiff")/skiff-testapp" "$work/image/testapp"
  printf 'FROM scratch\nCOPY testapp /testapp\nENTRYPOINT ["/testapp"]\n' >"$work/image/Dockerfile"
  tar -C "$work/image" -cf "$work/image.tar" .
  curl -fsS --unix-socket "$sock" -H 'Content-Type: application/x-tar' \
    --data-binary @"$work/image.tar" 'http://docker/v1.41/build?t=skiff-bench/idle:1' >/dev/null
fi

api=$(free_port); edge=$(free_port)
echo "[setup] skiff server --no-agent ($skiff) and one skiff agent ($agent_bin)"
start_skiff_server "$skiff" "$api" "$edge" 40000-40999 --no-agent
token=$("$skiff" nodes join-token | grep -o '[^ ]*$' | tail -1)
"$agent_bin" agent --server "$SKIFF_ADDR" --join-token "$token" --address 127.0.0.1 \
  --data "$work/agent" --ports 30000-33999 "${driver_flags[@]}" \
  --capacity cpu=1000000m,memory=100000Gi --log-level warn >"$work/agent.log" 2>&1 &
agent=$!
pids+=($agent)
for _ in $(seq 100); do
  "$skiff" nodes -o json 2>/dev/null | grep -q '"ready"' && break
  sleep 0.1
done

# running: instances of the app that run.
running() {
  "$skiff" status idle -o json 2>/dev/null | python3 -c '
import json, sys
try:
    s = json.load(sys.stdin)
except ValueError:
    print(0); sys.exit()
print(sum(1 for i in s.get("instances", []) if i["state"] == "running"))'
}
run_spec() {
  if [ "$driver" = docker ]; then
    printf '  image: skiff-bench/idle:1\n  network: host\n'
  else
    printf '  command: ["sleep", "86399"]\n'
  fi
}
# left: the instances' tasks still on the machine.
left() {
  if [ "$driver" = docker ]; then
    curl -fsS --unix-socket "$sock" \
      'http://docker/v1.41/containers/json?filters=%7B%22label%22%3A%5B%22skiff.app%3Didle%22%5D%7D' |
      python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'
  else
    pgrep -c -f '^sleep 86399$' || true
  fi
}
spec() {  # spec REPLICAS
  cat <<SPEC
name: idle
run:
$(run_spec)
replicas: $1
health: {type: none}
update: {min_healthy_time: 0s, max_surge: 1000}
SPEC
}
# agent_figures: "cpu% rss_mb threads" of the agent over the window.
agent_figures() {
  local hz t0 t1
  hz=$(getconf CLK_TCK)
  t0=$(awk '{print $14 + $15}' "/proc/$agent/stat")
  sleep "$window"
  t1=$(awk '{print $14 + $15}' "/proc/$agent/stat")
  awk -v d=$((t1 - t0)) -v hz="$hz" -v w="$window" \
    -v rss="$(awk '/^VmRSS/ {print $2}' "/proc/$agent/status")" \
    -v thr="$(awk '/^Threads/ {print $2}' "/proc/$agent/status")" \
    'BEGIN { printf "%.2f %.1f %d\n", 100 * d / hz / w, rss / 1024, thr }'
}

printf '%-10s %12s %12s %10s %10s\n' instances "start (s)" "cpu (% core)" "rss (MB)" threads
for n in $counts; do
  spec "$n" >"$work/idle.yaml"
  start=$(date +%s.%N)
  "$skiff" apply -f "$work/idle.yaml" --timeout 900 >/dev/null 2>&1 || true
  for _ in $(seq 1800); do
    [ "$(running)" -ge "$n" ] && break
    sleep 0.5
  done
  up=$(python3 -c "import time; print(f'{time.time() - $start:.1f}')")
  got=$(running)
  sleep "$settle"
  read -r cpu rss threads < <(agent_figures)
  printf '%-10s %12s %12s %10s %10s\n' "$n ($got up)" "$up" "$cpu" "$rss" "$threads"
done

start=$(date +%s.%N)
"$skiff" scale idle 0 >/dev/null
for _ in $(seq 1800); do
  [ "$(left)" -eq 0 ] && break
  sleep 0.5
done
echo "stopped all in $(python3 -c "import time; print(f'{time.time() - $start:.1f}')") s" \
  "($(left) $driver tasks left)"
# The agent writes its state as it stops: let it end before the work dir goes.
kill "$agent" 2>/dev/null || true
wait "$agent" 2>/dev/null || true
