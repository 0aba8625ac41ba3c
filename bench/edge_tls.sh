#!/usr/bin/env bash
# Benchmark: TLS at Skiff's edge against HAProxy, in one run, on this machine,
# in front of the same origin (nginx deployed as a Skiff app, as in
# bench/edge_proxy.sh). Both serve one ECDSA P-256 certificate made here, with
# one thread each (a standalone `skiff edge --threads 1`, HAProxy `nbthread 1`).
# Prints, with the ratios (target >= 1.0x for both):
#   - keep-alive requests/s over TLS: wrk, one thread, 64 connections (a
#     handshake per connection at the start, then requests on them);
#   - new TLS handshakes/s without resumption: `openssl s_time -new`, two
#     processes at once (one would measure the client: its handshake costs
#     about what the server's does), each a full handshake a connection
#     (s_time -new never offers a session) and one small GET.
# Never fails on time. Traffic stays on 127.0.0.1.
#
#   bench/edge_tls.sh [BUILD_DIR]
#
# The certificate reaches Skiff's edge the way a standalone edge keeps routes
# through an outage: in its data dir's routes.json (the server's routes with
# the certificate added), with --server pointing at a port nothing listens on,
# so the edge serves those routes throughout. Its names are origin.bench and
# 127.0.0.1 (wrk sends the URL's host as SNI). s_time sends no SNI: Skiff's
# edge then serves its fallback, also a self-signed ECDSA P-256 certificate
# (the same cost a handshake), HAProxy its one certificate.
set -euo pipefail
build=${1:-build}
skiff=$(realpath "$build/skiff")
duration=${BENCH_SECONDS:-8}
connections=${BENCH_CONNECTIONS:-64}

source "$(dirname "$0")/lib/common.sh"
bench_install wrk:wrk haproxy:haproxy nginx:nginx-light openssl:openssl

api=$(free_port); edge=$(free_port); plain=$(free_port); stls=$(free_port); hap=$(free_port)
nowhere=$(free_port)

echo "[1/4] starting skiff server and the origin (nginx as a Skiff app)..."
start_skiff_server "$skiff" "$api" "$edge" 41000-41999
origin=$(deploy_origin "$skiff")

echo "[2/4] one ECDSA P-256 certificate; a standalone Skiff edge and HAProxy with it..."
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=origin.bench -addext "subjectAltName=DNS:origin.bench,IP:127.0.0.1" \
  -keyout "$work/bench.key" -out "$work/bench.crt" 2>/dev/null
cat "$work/bench.crt" "$work/bench.key" >"$work/bench.pem"
mkdir -p "$work/edge-tls"
curl -fs -H "Authorization: Bearer $SKIFF_TOKEN" "$SKIFF_ADDR/v1/routes" |
  python3 -c '
import json, sys
routes = json.load(sys.stdin)
routes["certificates"] = [{"domains": ["origin.bench", "127.0.0.1"],
                           "cert": open(sys.argv[1]).read(), "key": open(sys.argv[2]).read()}]
json.dump(routes, open(sys.argv[3], "w"))
' "$work/bench.crt" "$work/bench.key" "$work/edge-tls/routes.json"
"$skiff" edge --server "http://127.0.0.1:$nowhere" --listen "127.0.0.1:$plain" \
  --tls-listen "127.0.0.1:$stls" --data "$work/edge-tls" --threads 1 --log-level error \
  >"$work/edge-tls.log" 2>&1 &
pids+=($!)
start_haproxy "$hap" "$origin" ssl crt "$work/bench.pem" alpn http/1.1
for port in $stls $hap; do
  for _ in $(seq 100); do
    curl -fsk -H 'Host: origin.bench' "https://127.0.0.1:$port/" >/dev/null 2>&1 && break
    sleep 0.1
  done
  if ! curl -fsk -H 'Host: origin.bench' "https://127.0.0.1:$port/" >/dev/null; then
    echo "nothing serves TLS on $port:" >&2
    cat "$work/edge-tls.log" "$work/haproxy-$hap.log" >&2
    exit 1
  fi
done
# The certificate each serves to wrk's SNI (127.0.0.1): the same one.
for port in $stls $hap; do
  echo | openssl s_client -connect "127.0.0.1:$port" -servername 127.0.0.1 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256 | sed "s/^/      port $port: /"
done

echo "[3/4] keep-alive requests over TLS: wrk, ${duration}s each, $connections connections..."
declare -A keep
for target in "skiff-edge:$stls" "haproxy:$hap"; do
  name=${target%%:*}; port=${target##*:}
  wrk -t1 -c"$connections" -d2s -H 'Host: origin.bench' "https://127.0.0.1:$port/" >/dev/null 2>&1
  wrk -t1 -c"$connections" -d"${duration}s" --latency -H 'Host: origin.bench' \
    "https://127.0.0.1:$port/" >"$work/wrk-tls-$name.txt" 2>&1
  keep[$name]=$(python3 - "$work/wrk-tls-$name.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
found = re.search(r"Requests/sec:\s+([\d.]+)", text)
def ms(v):
    n, unit = re.match(r"([\d.]+)(\w+)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]
if not found:
    print("0 0 FAILED"); sys.exit(0)
p99 = ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", text)
print(f"{float(found.group(1)):.0f} {p99:.3f}" + (" ERRORS" if errors else ""))
PY
)
  echo "      $name: ${keep[$name]}"
done

echo "[4/4] new handshakes (no resumption): 2 x openssl s_time -new, ${duration}s each..."
declare -A shakes
for target in "skiff-edge:$stls" "haproxy:$hap"; do
  name=${target%%:*}; port=${target##*:}
  clients=()
  for i in 1 2; do
    openssl s_time -connect "127.0.0.1:$port" -new -time "$duration" -www / \
      >"$work/s_time-$name-$i.txt" 2>&1 &
    clients+=($!)
  done
  wait "${clients[@]}" || true
  shakes[$name]=$(cat "$work/s_time-$name-"*.txt | awk '
    /connections in [0-9.]+ real seconds/ { n += $1; t += $4; k++ }
    END { if (k == 0 || t == 0) print 0; else printf "%.0f\n", n / (t / k) }')
  echo "      $name: ${shakes[$name]} handshakes/s"
done

python3 - <<PY
keep = {"skiff-edge": "${keep[skiff-edge]}".split(), "haproxy": "${keep[haproxy]}".split()}
shakes = {"skiff-edge": float("${shakes[skiff-edge]}"), "haproxy": float("${shakes[haproxy]}")}
print()
print(f"{'through':<14}{'keep-alive req/s':>18}{'p99 ms':>10}{'handshakes/s':>15}")
for name in ["skiff-edge", "haproxy"]:
    flag = "  (errors!)" if len(keep[name]) > 2 else ""
    print(f"{name:<14}{float(keep[name][0]):>18.0f}{keep[name][1]:>10}{shakes[name]:>15.0f}{flag}")
def ratio(a, b):
    return f"{a / b:.2f}x" if b else "-"
print()
print(f"skiff/haproxy: keep-alive req/s {ratio(float(keep['skiff-edge'][0]), float(keep['haproxy'][0]))}"
      f", new handshakes/s {ratio(shakes['skiff-edge'], shakes['haproxy'])}   (targets >= 1.0x)")
PY
