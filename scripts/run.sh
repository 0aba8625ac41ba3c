#!/usr/bin/env bash
# `make run`: starts the all-in-one Skiff server with its data under DATA, applies
# the example app once the server answers, shows where it answers, and keeps the
# server in the foreground until Ctrl-C. Instances keep running after the server
# stops; the next start adopts them.
set -euo pipefail
skiff=${1:-build/skiff}
data=${2:-.skiff}
addr=${SKIFF_LISTEN:-127.0.0.1:7070}
edge=${SKIFF_EDGE_LISTEN:-127.0.0.1:8080}
SKIFF_EDGE_PORT=${edge##*:}
export SKIFF_ADDR="http://$addr"

mkdir -p "$data"
"$skiff" server --data "$data" --listen "$addr" --edge-listen "$edge" &
server=$!
stop() { kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true; }
trap 'stop; exit 0' INT TERM   # Ctrl-C is how `make run` ends: not an error
trap stop EXIT

for _ in $(seq 1 100); do
  curl -fsS "$SKIFF_ADDR/health" >/dev/null 2>&1 && break
  kill -0 $server 2>/dev/null || { echo "run: the server exited; see its log above" >&2; exit 1; }
  sleep 0.1
done
export SKIFF_TOKEN=$(cat "$data/admin.token")

"$skiff" apply -f examples/hello.yaml
echo
"$skiff" status hello
address=$("$skiff" status hello -o json |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"][0]["address"])')
cat <<MSG

Skiff is running (API $SKIFF_ADDR, data in $data/).
The example app answers at its domain through the edge router, and at each
instance's own address:
  curl http://hello.localhost:${SKIFF_EDGE_PORT}/
  curl http://$address/
Use the CLI from another terminal:
  export SKIFF_ADDR=$SKIFF_ADDR SKIFF_TOKEN=\$(cat $data/admin.token)
  $skiff apps            # list apps
  $skiff logs hello -f   # follow its logs
  $skiff scale hello 3   # more replicas
  $skiff events -f       # the event trail
Press Ctrl-C to stop the server (the app keeps running and is adopted on the next start).
MSG
wait $server
