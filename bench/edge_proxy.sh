#!/usr/bin/env bash
# Benchmark: Skiff's edge against HAProxy and nginx as reverse proxies, in one
# run, on this machine, in front of the same origin: an nginx deployed as a
# Skiff app (one replica answering a small static body). wrk drives each for
# the same time with the same connections; every proxy gets one thread/worker
# (Skiff's standalone edge also with 2, and with 1 on the epoll engine).
# skiff-edge-1t asks for io_uring (`--io-engine io_uring`, the default's
# choice where the kernel allows it), so the run fails where it is not
# available rather than measure epoll under its name; skiff-edge-1t-epoll is
# `--io-engine epoll`; the others have the default (auto). Prints req/s, p50
# and p99 and the ratios; never fails on time. Traffic stays on 127.0.0.1.
#
#   bench/edge_proxy.sh [BUILD_DIR]      (make bench runs it)
#
# With each run, the CPU time the proxy's own processes used per request (user
# and system, from /proc): on a 2-core machine wrk and the origin share the
# cores with the proxy, so req/s moves less than the proxy's own cost does.
#
# Also: the latency each proxy adds at half load (half of skiff-edge-1t's req/s,
# the same fixed rate through every one and directly), measured open-loop by
# bench_fixed_rate from each request's scheduled time; and the idle RSS of a
# standalone edge holding 1,000 routes.
set -euo pipefail
build=${1:-build}
skiff=$(realpath "$build/skiff")
fixed_rate=$(realpath "$build/bench_fixed_rate")
duration=${BENCH_SECONDS:-8}
connections=${BENCH_CONNECTIONS:-64}

source "$(dirname "$0")/lib/common.sh"
bench_install wrk:wrk haproxy:haproxy nginx:nginx-light

api=$(free_port); edge=$(free_port); sedge1=$(free_port); sedge2=$(free_port); sepoll=$(free_port)
hap=$(free_port); ngx=$(free_port)

echo "[1/5] starting skiff server and the origin (nginx as a Skiff app)..."
start_skiff_server "$skiff" "$api" "$edge" 41000-41999
server_pid=${pids[-1]}
origin=$(deploy_origin "$skiff")

echo "[2/5] starting HAProxy, nginx (proxy) and standalone Skiff edges in front of $origin..."
start_haproxy "$hap" "$origin"
cat >"$work/nginx-proxy.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx-proxy.pid;
error_log stderr error;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work; proxy_temp_path $work;
  fastcgi_temp_path $work; uwsgi_temp_path $work; scgi_temp_path $work;
  upstream origin { server $origin; keepalive 256; }
  server {
    listen 127.0.0.1:$ngx;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }
}
EOF
declare -A proc  # the processes whose CPU time is the proxy's
proc[haproxy]=${pids[-1]}
proc[skiff-all-in-one]=$server_pid
nginx -c "$work/nginx-proxy.conf" >"$work/nginx-proxy.log" 2>&1 &
pids+=($!)
proc[nginx]=$!
"$skiff" edge --server "$SKIFF_ADDR" --listen "127.0.0.1:$sedge1" --data "$work/edge1" \
  --threads 1 --io-engine io_uring --log-level warn >"$work/edge1.log" 2>&1 &
uring_pid=$!
pids+=($!)
proc[skiff-edge-1t]=$!
"$skiff" edge --server "$SKIFF_ADDR" --listen "127.0.0.1:$sedge2" --data "$work/edge2" \
  --threads 2 --log-level warn >"$work/edge2.log" 2>&1 &
pids+=($!)
proc[skiff-edge-2t]=$!
"$skiff" edge --server "$SKIFF_ADDR" --listen "127.0.0.1:$sepoll" --data "$work/edge-epoll" \
  --threads 1 --io-engine epoll --log-level warn >"$work/edge-epoll.log" 2>&1 &
pids+=($!)
proc[skiff-edge-1t-epoll]=$!
for port in $hap $ngx $sedge1 $sedge2 $sepoll; do
  for _ in $(seq 100); do
    curl -fs -H 'Host: origin.bench' "http://127.0.0.1:$port/" >/dev/null 2>&1 && break
    sleep 0.1
  done
done
if ! curl -fs -H 'Host: origin.bench' "http://127.0.0.1:$sedge1/" >/dev/null 2>&1 ||
   ! kill -0 "$uring_pid" 2>/dev/null; then
  echo "the io_uring edge did not start (no io_uring here?):" >&2
  cat "$work/edge1.log" >&2
  exit 1
fi
proc[nginx]="${proc[nginx]} $(pgrep -P "${proc[nginx]}" | tr '\n' ' ')"  # and its worker

echo "[3/5] wrk, ${duration}s each, $connections connections, 1 wrk thread..."
declare -A result cpu
tick=$(getconf CLK_TCK)
for target in "direct:${origin##*:}" "skiff-edge-1t:$sedge1" "haproxy:$hap" "nginx:$ngx" \
              "skiff-edge-1t-epoll:$sepoll" "skiff-edge-2t:$sedge2" "skiff-all-in-one:$edge"; do
  name=${target%%:*}; port=${target##*:}
  # shellcheck disable=SC2086  # proc[] holds a list of pids
  before=$(cpu_ticks ${proc[$name]:-})
  result[$name]=$(wrk_measure "$name" "$port" "$connections")
  cpu[$name]="$before $(cpu_ticks ${proc[$name]:-}) \
$(awk '/requests in/ {print $1}' "$work/wrk-$name-$connections.txt")"
  echo "      $name: ${result[$name]}"
done
# Half load: wrk cannot hold a rate (it waits for each answer, so stalls hide), so
# bench_fixed_rate sends at one fixed rate and counts queueing. Every target gets
# the same rate, so the p99 each proxy adds over direct compares like with like.
half=$(awk -v r="${result[skiff-edge-1t]%% *}" 'BEGIN { printf "%d", r / 2 }')
[ "$half" -gt 0 ] || half=$(awk -v r="${result[direct]%% *}" 'BEGIN { printf "%d", r / 2 }')
echo "[4/5] half load: $half req/s, fixed rate, ${duration}s each, $connections connections..."
declare -A half_load
for target in "direct:${origin##*:}" "skiff-edge-1t:$sedge1" "haproxy:$hap" "nginx:$ngx"; do
  name=${target%%:*}; port=${target##*:}
  half_load[$name]=$("$fixed_rate" --url "http://127.0.0.1:$port/" --host origin.bench \
    --rate "$half" --connections "$connections" --seconds "$duration" 2>"$work/fixed-$name.err" \
    || echo "0 0 0 0 FAILED")
  echo "      $name: ${half_load[$name]}"
done

echo "[5/5] idle RSS of a standalone edge with 1,000 routes..."
python3 - "$work/many.yaml" <<'PY'
import sys
domains = ", ".join(f"d{i}.bench" for i in range(1000))
open(sys.argv[1], "w").write(
    "name: many\nrun: {command: [sleep, infinity]}\nhealth: {type: none}\n"
    f"domains: [{domains}]\n")
PY
"$skiff" apply --detach -f "$work/many.yaml" >/dev/null
ridle=$(free_port)
"$skiff" edge --server "$SKIFF_ADDR" --listen "127.0.0.1:$ridle" --data "$work/edge-idle" \
  --threads 2 --log-level warn >"$work/edge-idle.log" 2>&1 &
idle_pid=$!
pids+=($idle_pid)
for _ in $(seq 100); do [ -s "$work/edge-idle/routes.json" ] && grep -q d999.bench "$work/edge-idle/routes.json" && break; sleep 0.1; done
sleep 2
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$idle_pid/status")

python3 - <<PY
r = {k: v.split() for k, v in {
  "direct": "${result[direct]}", "skiff-edge-1t": "${result[skiff-edge-1t]}",
  "haproxy": "${result[haproxy]}", "nginx": "${result[nginx]}",
  "skiff-edge-1t-epoll": "${result[skiff-edge-1t-epoll]}",
  "skiff-edge-2t": "${result[skiff-edge-2t]}", "skiff-all-in-one": "${result[skiff-all-in-one]}"}.items()}
half = {k: v.split() for k, v in {
  "direct": "${half_load[direct]}", "skiff-edge-1t": "${half_load[skiff-edge-1t]}",
  "haproxy": "${half_load[haproxy]}", "nginx": "${half_load[nginx]}"}.items()}
tick = ${tick}
cpu_runs = {k: v.split() for k, v in {
  "skiff-edge-1t": "${cpu[skiff-edge-1t]:-}", "haproxy": "${cpu[haproxy]:-}",
  "nginx": "${cpu[nginx]:-}", "skiff-edge-1t-epoll": "${cpu[skiff-edge-1t-epoll]:-}",
  "skiff-edge-2t": "${cpu[skiff-edge-2t]:-}",
  "skiff-all-in-one": "${cpu[skiff-all-in-one]:-}"}.items()}
def cpu_us(name):  # the proxy's own CPU microseconds per request: (user, system)
    fields = cpu_runs.get(name)
    if not fields or len(fields) != 5 or int(fields[4]) == 0:
        return None
    u0, s0, u1, s1, reqs = map(int, fields)
    return ((u1 - u0) / tick * 1e6 / reqs, (s1 - s0) / tick * 1e6 / reqs)
skiff = float(r["skiff-edge-1t"][0])
skiff_cpu = cpu_us("skiff-edge-1t")
print()
print(f"{'through':<22}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'skiff/this':>12}"
      f"{'cpu us/req':>12}{'(user+sys)':>12}{'this/skiff':>12}")
for name in ["direct", "skiff-edge-1t", "haproxy", "nginx", "skiff-edge-1t-epoll", "skiff-edge-2t",
             "skiff-all-in-one"]:
    rps, p50, p99 = float(r[name][0]), r[name][1], r[name][2]
    flag = "  (errors!)" if len(r[name]) > 3 else ""
    c = cpu_us(name)
    cpu = f"{sum(c):>12.1f}{f'{c[0]:.1f}+{c[1]:.1f}':>12}" if c else f"{'-':>12}{'':>12}"
    ratio = f"{sum(c) / sum(skiff_cpu):>11.2f}x" if c and skiff_cpu and sum(skiff_cpu) else f"{'-':>12}"
    print(f"{name:<22}{rps:>10.0f}{p50:>10}{p99:>10}{skiff / rps:>11.2f}x{cpu}{ratio}{flag}")
print()
print("targets: skiff-edge-1t >= 1.1x haproxy and >= 1.3x nginx in req/s, p99 <= haproxy's")
e = r["skiff-edge-1t-epoll"]
print(f"engines: skiff-edge-1t (io_uring) / skiff-edge-1t-epoll: {skiff / float(e[0]):.3f}x req/s, "
      f"p99 {r['skiff-edge-1t'][2]} vs {e[2]} ms")
print("cpu us/req: the proxy's own processes (skiff-all-in-one: the whole server), from /proc")
print()
d99 = float(half["direct"][2])
print(f"{'half load (${half}/s)':<22}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'p99.9 ms':>10}{'p99 added':>12}")
for name in ["direct", "skiff-edge-1t", "haproxy", "nginx"]:
    rps, p50, p99, p999, errors = half[name][:5]  # then errors by kind, late_p99_ms
    flag = "" if errors == "0" else f"  ({errors} errors!)" if errors.isdigit() else "  (failed!)"
    print(f"{name:<22}{float(rps):>10.0f}{p50:>10}{p99:>10}{p999:>10}{float(p99) - d99:>11.3f}ms{flag}")
print("target: skiff's added p99 <= 1 ms at half load")
print()
print(f"idle RSS of skiff edge with 1,000 routes: {${rss_kb} / 1024:.1f} MB (target <= 15 MB)")
PY
