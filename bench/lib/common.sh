# Shared by the bench/*.sh scripts (sourced, not run): installing the tools a
# benchmark drives, a work dir cleaned up on exit, free ports, an all-in-one
# `skiff server`, nginx deployed as a Skiff app, HAProxy as the proxy to beat,
# and one wrk measurement. Traffic stays on 127.0.0.1.

# bench_install TOOL:PACKAGE...: installs the packages whose tool is missing.
bench_install() {
  local need=() tool
  for tool in "$@"; do
    command -v "${tool%%:*}" >/dev/null || need+=("${tool##*:}")
  done
  [ ${#need[@]} -eq 0 ] && return 0
  echo "[setup] installing ${need[*]}"
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

# Sets $work (a fresh dir) and $pids; on exit kills $pids and everything
# started from $work, and removes it.
work=$(mktemp -d)
pids=()
bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  pkill -f "$work/" 2>/dev/null || true
  rm -rf "$work"
}
trap bench_cleanup EXIT

# bench_contain_under_work: for a bench binary that starts its own processes
# in temp dirs (the tests' fakes): puts those under $work (TMPDIR; entered by
# PostgreSQL's `nobody` when run as root) and, on exit, kills what names $work
# (bench_cleanup) and the processes whose output goes to files under it (the
# apps' instances the agents started).
bench_kill_writing_under_work() {
  local fd target
  for fd in /proc/[0-9]*/fd/1; do
    target=$(readlink "$fd" 2>/dev/null) || continue
    case $target in "$work"/*) fd=${fd#/proc/}; kill -9 "${fd%%/*}" 2>/dev/null || true ;; esac
  done
}
bench_contain_under_work() {
  export TMPDIR=$work
  chmod 755 "$work"
  trap 'bench_kill_writing_under_work; bench_cleanup' EXIT
}

# share_trust FROM_DATA TO_DATA: what servers of one database must hold alike
# (docs/postgres.md): the first server's CA and keyring, copied (0600) into
# another's data directory before it starts.
share_trust() {
  mkdir -p "$2" && chmod 700 "$2"
  local f
  for f in ca.crt ca.key keyring.json; do install -m 600 "$1/$f" "$2/$f"; done
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_skiff_server SKIFF API_PORT EDGE_PORT PORT_RANGE [FLAG...]: an
# all-in-one server (the flags may turn parts off: --no-agent) with its data in
# $work/data; waits for it and exports SKIFF_ADDR, SKIFF_TOKEN.
start_skiff_server() {
  "$1" server --data "$work/data" --listen "127.0.0.1:$2" --edge-listen "127.0.0.1:$3" \
    --ports "$4" --log-level warn "${@:5}" >"$work/server.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$2/health" >/dev/null 2>&1 && break; sleep 0.1; done
  export SKIFF_ADDR="http://127.0.0.1:$2" SKIFF_TOKEN=$(cat "$work/data/admin.token")
}

# nginx_app DIR BODY: writes DIR/nginx.conf.in (one worker answering every
# request with 200 BODY; HOST and PORT are filled in per instance) and prints
# the `run.command` that starts it as a Skiff app.
nginx_app() {
  mkdir -p "$1"
  cat >"$1/nginx.conf.in" <<CONF
worker_processes 1;
daemon off;
pid $1/nginx-PORT.pid;
error_log stderr error;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $1; proxy_temp_path $1;
  fastcgi_temp_path $1; uwsgi_temp_path $1; scgi_temp_path $1;
  keepalive_requests 1000000;
  server { listen HOST:PORT; location / { return 200 "$2\n"; } }
}
CONF
  printf '["/bin/sh", "-c", "sed -e s/HOST/${HOST}/ -e s/PORT/${PORT}/ %s/nginx.conf.in > %s/nginx-${PORT}.conf && exec nginx -c %s/nginx-${PORT}.conf"]' "$1" "$1" "$1"
}

# deploy_origin SKIFF: deploys the origin the proxy benchmarks share (nginx_app
# answering "hello from the origin", one replica, domain origin.bench) on the
# server start_skiff_server started, waits until it is healthy and prints its
# address (HOST:PORT).
deploy_origin() {
  local command
  command=$(nginx_app "$work/origin" "hello from the origin")
  cat >"$work/origin.yaml" <<EOF
name: origin
run:
  command: $command
domains: [origin.bench]
health: {type: http, path: /}
EOF
  "$1" apply -f "$work/origin.yaml" >/dev/null
  "$1" status origin -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"][0]["address"])'
}

# start_haproxy PORT ORIGIN [BIND_OPTION...]: HAProxy with one thread on
# 127.0.0.1:PORT in front of ORIGIN (HOST:PORT), keep-alive on both sides and
# upstream connections reused; the options go on its bind line (TLS: ssl crt
# FILE ...); its pid joins $pids.
start_haproxy() {
  cat >"$work/haproxy-$1.cfg" <<EOF
global
  nbthread 1
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:$1 ${*:3}
  default_backend be
backend be
  http-reuse always
  server origin $2
EOF
  haproxy -f "$work/haproxy-$1.cfg" >"$work/haproxy-$1.log" 2>&1 &
  pids+=($!)
}

# cpu_ticks PID... -> the user and system clock ticks these processes have
# used so far, summed ("USER SYS"); a pid that is gone counts 0.
cpu_ticks() {
  local pid user=0 sys=0 u s
  for pid in "$@"; do
    read -r u s < <(awk '{print $14, $15}' "/proc/$pid/stat" 2>/dev/null || echo 0 0)
    user=$((user + u)); sys=$((sys + s))
  done
  echo "$user $sys"
}

# wrk_measure NAME PORT CONNECTIONS -> "reqs p50_ms p99_ms" (and " ERRORS" when
# wrk saw any): one wrk thread for $duration seconds; its output stays in
# $work/wrk-NAME-CONNECTIONS.txt.
wrk_measure() {
  local port=$2 conns=$3
  wrk -t1 -c"$conns" -d"${duration}s" --latency -H 'Host: origin.bench' "http://127.0.0.1:$port/" \
    >"$work/wrk-$1-$conns.txt" 2>&1
  python3 - "$work/wrk-$1-$conns.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def ms(v):
    n, unit = re.match(r"([\d.]+)(\w+)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]
found = re.search(r"Requests/sec:\s+([\d.]+)", text)
if not found:
    print("0 0 0 FAILED")
    sys.exit(0)
rps = float(found.group(1))
p50 = ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1))
p99 = ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", text)
print(f"{rps:.0f} {p50:.3f} {p99:.3f}" + (" ERRORS" if errors else ""))
PY
}
