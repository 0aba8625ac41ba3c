#!/usr/bin/env bash
# Benchmark: would io_uring make the edge faster (issue 12, §4)? bench_uring_probe
# is one minimal keep-alive reverse proxy with three I/O engines: epoll (the
# edge's way: edge-triggered, recv/send at once, four syscalls a request),
# uring (multishot recv into a provided buffer ring, send SQEs, one
# io_uring_submit_and_wait a round) and uring-oneshot (a recv SQE per read, no
# buffer ring). Each runs as one thread, in front of the same nginx origin, in
# the same run as HAProxy (nbthread 1); wrk drives each in turn, and the rounds
# are interleaved (the order rotates each round) so load from elsewhere on the
# machine falls on all of them. Prints, per proxy, req/s, p99 and the proxy's
# CPU time per request (utime + stime from /proc/PID/stat over the wrk run; on
# a shared machine the steadier figure), with the origin's beside it, their
# medians, the ratios uring/epoll (paired within each round) and each/HAProxy;
# then, once, the syscalls per request of each (perf stat tracepoints, counted
# over one more wrk run). Never fails on the figures. Traffic stays on 127.0.0.1.
#
# When BUILD_DIR (or BENCH_SKIFF) has a skiff binary, the origin is deployed as
# a Skiff app as in edge_proxy.sh, and a standalone `skiff edge --threads 1`
# joins the run: the probe's CPU per request set against the edge's.
#
#   bench/uring_probe.sh [BUILD_DIR]
#   BENCH_SECONDS=8 BENCH_CONNECTIONS=64 BENCH_ROUNDS=3 BENCH_SKIFF=SKIFF_BINARY
set -euo pipefail
build=${1:-build}
if [ ! -x "$build/bench_uring_probe" ]; then
  echo "bench_uring_probe is not built (CMake found no liburing; scripts/setup.sh installs it): skipped"
  exit 0
fi
probe=$(realpath "$build/bench_uring_probe")
skiff=${BENCH_SKIFF:-$build/skiff}
duration=${BENCH_SECONDS:-8}
connections=${BENCH_CONNECTIONS:-64}
rounds=${BENCH_ROUNDS:-3}

source "$(dirname "$0")/lib/common.sh"
bench_install wrk:wrk haproxy:haproxy nginx:nginx-light

echo "[1/4] load before: $(uptime)"
names=(epoll uring uring-oneshot haproxy)
declare -A port pid
if [ -x "$skiff" ]; then
  # The origin as edge_proxy.sh has it, and Skiff's own edge in the same run.
  start_skiff_server "$skiff" "$(free_port)" "$(free_port)" 41000-41999
  origin=$(deploy_origin "$skiff")
  port[skiff-edge]=$(free_port)
  "$skiff" edge --server "$SKIFF_ADDR" --listen "127.0.0.1:${port[skiff-edge]}" --data "$work/edge" \
    --threads 1 --log-level warn >"$work/edge.log" 2>&1 &
  pid[skiff-edge]=$!
  pids+=($!)
  names+=(skiff-edge)
else
  origin_port=$(free_port)
  nginx_app "$work/origin" "hello from the origin" >/dev/null
  sed -e s/HOST/127.0.0.1/ -e "s/PORT/$origin_port/" "$work/origin/nginx.conf.in" >"$work/origin/nginx.conf"
  nginx -c "$work/origin/nginx.conf" >"$work/origin.log" 2>&1 &
  pids+=($!)
  origin=127.0.0.1:$origin_port
fi
for mode in epoll uring uring-oneshot; do
  port[$mode]=$(free_port)
  "$probe" --mode "$mode" --listen "${port[$mode]}" --origin "$origin" 2>"$work/probe-$mode.log" &
  pid[$mode]=$!
  pids+=($!)
done
port[haproxy]=$(free_port)
start_haproxy "${port[haproxy]}" "$origin"
pid[haproxy]=${pids[-1]}
for name in "${names[@]}"; do
  for _ in $(seq 100); do
    curl -fs -H 'Host: origin.bench' "http://127.0.0.1:${port[$name]}/" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fs -H 'Host: origin.bench' "http://127.0.0.1:${port[$name]}/" >/dev/null ||
    { echo "$name does not answer" >&2; exit 1; }
done
echo "[2/4] the engines as set up:"
for mode in epoll uring uring-oneshot; do echo "      $mode: $(sed 's/^uring_probe: //' "$work/probe-$mode.log")"; done

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
requests_of() { grep -o '[0-9]* requests in' "$1" | grep -o '^[0-9]*'; }
# us_per_request TICKS REQUESTS
us_per_request() {
  awk -v t="$1" -v hz="$tick" -v n="${2:-0}" 'BEGIN { printf "%.2f", (n > 0 ? t / hz * 1e6 / n : 0) }'
}
tick=$(getconf CLK_TCK)
# The origin's one nginx worker: its CPU per request is the share of the
# machine that no proxy can save (wrk's is another).
origin_master=$(pgrep -f "nginx -c $work/origin/nginx" | head -1)
origin_worker=$(pgrep -P "$origin_master" | head -1)

echo "[3/4] wrk -t1 -c$connections, ${duration}s each, $rounds interleaved rounds..."
: >"$work/results"
for round in $(seq "$rounds"); do
  for i in "${!names[@]}"; do
    name=${names[$(( (i + round - 1) % ${#names[@]} ))]}
    before=$(cpu_ticks "${pid[$name]}"); origin_before=$(cpu_ticks "$origin_worker")
    figures=$(wrk_measure "$name-$round" "${port[$name]}" "$connections")
    after=$(cpu_ticks "${pid[$name]}"); origin_after=$(cpu_ticks "$origin_worker")
    requests=$(requests_of "$work/wrk-$name-$round-$connections.txt" || echo 0)
    cpu_us=$(us_per_request $((after - before)) "$requests")
    origin_us=$(us_per_request $((origin_after - origin_before)) "$requests")
    echo "$round $name $figures" |
      awk -v c="$cpu_us $origin_us" '{ $6 = c " " ($6 == "" ? "-" : $6); print }' >>"$work/results"
    echo "      round $round $name: $figures, ${cpu_us} us CPU/request (origin ${origin_us})"
  done
done

echo "[4/4] syscalls per request (perf stat over one more wrk run each)..."
events=raw_syscalls:sys_enter,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto
events+=,syscalls:sys_enter_sendmsg,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_io_uring_enter
: >"$work/syscalls"
if perf stat -e "$events" -- true >/dev/null 2>&1; then
  for name in "${names[@]}"; do
    perf stat -x, -e "$events" -p "${pid[$name]}" -o "$work/perf-$name.csv" -- \
      wrk -t1 -c"$connections" -d"${duration}s" -H 'Host: origin.bench' "http://127.0.0.1:${port[$name]}/" \
      >"$work/wrk-perf-$name.txt" 2>&1
    echo "$name $(requests_of "$work/wrk-perf-$name.txt" || echo 0) $(grep -v '^#' "$work/perf-$name.csv" |
      awk -F, 'NF > 2 { printf "%s ", $1 }')" >>"$work/syscalls"
  done
else
  echo "      perf cannot read syscall tracepoints here (needs root or perf_event_paranoid <= -1): skipped"
fi
echo "      load after: $(uptime)"

python3 - "$work/results" "$work/syscalls" "$duration" "$connections" "${names[@]}" <<'PY'
import statistics, sys
names = sys.argv[5:]
rows = {}  # (round, name) -> (rps, p99, cpu_us, errors)
for line in open(sys.argv[1]):
    f = line.split()
    rows[(int(f[0]), f[1])] = (float(f[2]), float(f[4]), float(f[5]), f[7] != "-", float(f[6]))
rounds = sorted({r for r, _ in rows})
med = statistics.median

print()
print(f"wrk -t1 -c{sys.argv[4]}, {sys.argv[3]} s a run, {len(rounds)} rounds; medians, then each round")
print(f"{'proxy':<15}{'req/s':>9}{'p99 ms':>9}{'CPU us/req':>12}{'origin us/req':>15}   req/s by round")
for n in names:
    rps = [rows[(r, n)][0] for r in rounds]
    p99 = [rows[(r, n)][1] for r in rounds]
    cpu = [rows[(r, n)][2] for r in rounds]
    origin_cpu = [rows[(r, n)][4] for r in rounds]
    errors = any(rows[(r, n)][3] for r in rounds)
    print(f"{n:<15}{med(rps):>9.0f}{med(p99):>9.2f}{med(cpu):>12.2f}{med(origin_cpu):>15.2f}   "
          + " ".join(f"{v:.0f}" for v in rps) + ("  (wrk saw errors!)" if errors else ""))

def ratios(a, b, field):
    return [rows[(r, a)][field] / rows[(r, b)][field] for r in rounds if rows[(r, b)][field] > 0]

print()
print("ratios, paired within each round (median, then each round):")
pairs = [("uring", "epoll"), ("uring-oneshot", "epoll"), ("epoll", "haproxy"),
         ("uring", "haproxy"), ("uring-oneshot", "haproxy")]
if "skiff-edge" in names:
    pairs += [("skiff-edge", "haproxy"), ("skiff-edge", "epoll")]
for a, b in pairs:
    for field, label in [(0, "req/s"), (1, "p99"), (2, "CPU/req")]:
        r = ratios(a, b, field)
        if r:
            print(f"  {a + '/' + b:<24}{label:<9}{med(r):>6.3f}x   " + " ".join(f"{v:.3f}" for v in r))

lines = [l.split() for l in open(sys.argv[2]) if l.strip()]
if lines:
    print()
    print("syscalls per request (one more wrk run each, perf stat on the proxy):")
    print(f"{'proxy':<15}{'all':>7}{'recvfrom':>10}{'sendto':>8}{'sendmsg':>9}{'epoll_wait':>12}"
          f"{'uring_enter':>13}")
    for f in lines:
        n, requests, counts = f[0], int(f[1]), [float(c) if c.replace('.', '').isdigit() else 0
                                                for c in f[2:]]
        if requests == 0 or len(counts) < 6:
            print(f"{n:<15}  (no figures)")
            continue
        per = [c / requests for c in counts]
        print(f"{n:<15}{per[0]:>7.2f}{per[1]:>10.2f}{per[2]:>8.2f}{per[3]:>9.2f}{per[4]:>12.3f}"
              f"{per[5]:>13.3f}")
PY
