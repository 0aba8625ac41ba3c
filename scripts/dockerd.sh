#!/usr/bin/env bash
# The Docker engine of Skiff's tests: prints the unix:// URL of a private
# dockerd, starting one when none answers there. Its state lives under
# SKIFF_DOCKERD_DIR (default /tmp/skiff-dockerd): data root, exec root, socket,
# log. It is not the machine's Docker: no iptables rules, no bridge (tests use
# host networking bound to loopback), and it keeps running after the tests so
# later runs reuse it. Installs docker.io (Debian 12) when dockerd is missing.
#
#   bash scripts/dockerd.sh          # start if needed, print unix:///…/docker.sock
#   bash scripts/dockerd.sh stop     # stop the daemon this script started
#   bash scripts/dockerd.sh swarm    # the Swarm tests' engine: a dockerd of its
#                                    # own (SKIFF_SWARMD_DIR, default
#                                    # /tmp/skiff-swarmd) made a single-node Swarm
#                                    # manager when it is not one yet
#   bash scripts/dockerd.sh swarm stop
#
# The Swarm engine is not the shared one: a Swarm manager listens on
# SKIFF_SWARM_ADDR (default 127.0.0.1) ports 2377 and 7946, keeps a raft log,
# and runs services' tasks that tests of plain containers would see; keeping
# it apart leaves those tests and the shared engine as they were. Its Swarm
# listens and advertises on SKIFF_SWARM_ADDR:SKIFF_SWARM_PORT (default 2377).
#
# `swarm init` makes an `ingress` overlay network and, for its sandbox, the
# `docker_gwbridge` bridge (172.18.0.1/16, a route, a veth) in the host's
# network namespace. Skiff's tasks run on the host network and need neither:
# both are deleted through the API (a later restart does not make them again),
# and the link with its route too. The engine runs with
# DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1, as moby's own test daemons do:
# otherwise a Swarm worker asks the image's registry (registry-1.docker.io for
# a bare name) before every task even when the image is local.
#
# Exits non-zero, saying why, when it cannot bring the engine up (not root, the
# package cannot be installed, dockerd dies, the Swarm cannot be initialised).
# Tests then fail under CI=true and skip otherwise.
set -euo pipefail
mode=plain
if [ "${1:-}" = swarm ]; then
  mode=swarm
  shift
fi
if [ "$mode" = swarm ]; then
  dir=${SKIFF_SWARMD_DIR:-/tmp/skiff-swarmd}
else
  dir=${SKIFF_DOCKERD_DIR:-/tmp/skiff-dockerd}
fi
sock=$dir/docker.sock
log=$dir/dockerd.log

fail() {
  echo "dockerd.sh: $*" >&2
  exit 1
}
answers() {
  curl -fsS --max-time 2 --unix-socket "$sock" http://docker/_ping >/dev/null 2>&1
}

# The Swarm fields of the engine's /info (compact JSON, one value each).
swarm_field() {
  grep -o "\"$1\":[^,}]*" <<<"$2" | head -n 1 | cut -d: -f2- | tr -d '"'
}

# Makes the engine a single-node Swarm manager unless it is one; waits out a
# Swarm that is still coming back after a restart of the engine.
ensure_swarm() {
  local addr=${SKIFF_SWARM_ADDR:-127.0.0.1} port=${SKIFF_SWARM_PORT:-2377}
  local info state control out
  mkdir -p "$dir" 2>/dev/null || true
  if ! { [ -w "$dir/swarm.lock" ] || { [ ! -e "$dir/swarm.lock" ] && [ -w "$dir" ]; }; }; then
    fail "cannot write $dir/swarm.lock (run as its owner, usually root, or set SKIFF_SWARMD_DIR)"
  fi
  exec 8>"$dir/swarm.lock"
  flock 8
  for _ in $(seq 1 300); do
    info=$(curl -fsS --max-time 5 --unix-socket "$sock" http://docker/v1.41/info) ||
      fail "the engine at $sock does not answer /info"
    state=$(swarm_field LocalNodeState "$info")
    control=$(swarm_field ControlAvailable "$info")
    case "$state" in
      active)
        [ "$control" = true ] && { drop_swarm_networks; return 0; }
        fail "the engine at $sock is a Swarm worker, not a manager (leave that Swarm first)"
        ;;
      inactive)
        out=$(curl -sS --max-time 60 --unix-socket "$sock" -X POST \
          -H 'Content-Type: application/json' \
          -d "{\"ListenAddr\":\"$addr:$port\",\"AdvertiseAddr\":\"$addr:$port\"}" \
          -w '\n%{http_code}' http://docker/v1.41/swarm/init) || fail "swarm init: no answer"
        case "$(tail -n 1 <<<"$out")" in
          200) drop_swarm_networks settle ;;
          503) ;; # another caller initialised it meanwhile: look again
          *) fail "swarm init on $addr:$port failed: $(head -n 1 <<<"$out")" ;;
        esac
        ;;
      pending) sleep 0.1 ;;
      *) fail "the engine at $sock is in Swarm state '$state': $(swarm_field Error "$info")" ;;
    esac
  done
  fail "the Swarm of the engine at $sock did not become active"
}

# Deletes the Swarm's ingress network and docker_gwbridge (see the header),
# and the link the engine leaves behind; already gone, nothing happens.
# Just after init the engine is still making them, asynchronously: ingress
# first, then (attaching its sandbox) docker_gwbridge, which refuses the
# delete while attached. So with `settle` it deletes until neither has been
# seen for 3 s (at most 30 s).
drop_swarm_networks() {
  local settle=${1:-} net code clean=0
  for _ in $(seq 1 300); do
    local seen=0
    for net in ingress docker_gwbridge; do
      code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 30 --unix-socket "$sock" \
        -X DELETE "http://docker/v1.41/networks/$net") || fail "delete network $net: no answer"
      [ "$code" = 404 ] || seen=1
    done
    ip link del docker_gwbridge 2>/dev/null || true
    if [ "$seen" = 0 ]; then
      clean=$((clean + 1))
      [ -z "$settle" ] || [ "$clean" -ge 30 ] && return 0
    else
      clean=0
    fi
    sleep 0.1
  done
  fail "the engine at $sock keeps its ingress or docker_gwbridge network (HTTP $code)"
}

up() {
  if [ "$mode" = swarm ]; then
    ensure_swarm
  fi
  echo "unix://$sock"
  exit 0
}

if [ "${1:-}" = stop ]; then
  if [ -f "$dir/dockerd.pid" ]; then
    pid=$(cat "$dir/dockerd.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  # The daemon leaves its network namespace handles mounted (a Swarm member's
  # ingress and overlay sandboxes too).
  for ns in "$dir"/exec/netns/*; do
    umount "$ns" 2>/dev/null || true
  done
  if [ "$mode" = swarm ]; then
    ip link del docker_gwbridge 2>/dev/null || true
  fi
  exit 0
fi

if answers; then
  up
fi

[ "$(id -u)" -eq 0 ] || fail "needs root to start dockerd (or start one and set its socket at $sock)"
mkdir -p "$dir"
# Several test processes may get here at once: one installs and starts.
exec 9>"$dir/lock"
flock 9
if answers; then
  up
fi
command -v curl >/dev/null || fail "needs curl"
if ! command -v dockerd >/dev/null; then
  command -v apt-get >/dev/null || fail "dockerd is missing and there is no apt-get to install docker.io"
  echo "dockerd.sh: installing docker.io" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends docker.io >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends docker.io >/dev/null; } ||
    fail "cannot install docker.io"
fi

start() {
  rm -f "$sock"
  local env=()
  [ "$mode" = swarm ] && env=(DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1)
  setsid env "${env[@]}" dockerd --data-root "$dir/root" --exec-root "$dir/exec" \
    --pidfile "$dir/dockerd.pid" --host "unix://$sock" \
    --iptables=false --ip6tables=false --bridge=none "$@" </dev/null >>"$log" 2>&1 9>&- &
  local pid=$!
  for _ in $(seq 1 300); do
    answers && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  kill -TERM "$pid" 2>/dev/null || true
  return 1
}

# overlay2 where the file system allows it, else the slow but universal vfs.
if ! start && ! start --storage-driver=vfs; then
  tail -n 20 "$log" >&2 || true
  fail "dockerd did not come up (log: $log)"
fi
exec 9>&-
up
