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
#
# Exits non-zero, saying why, when it cannot bring the engine up (not root, the
# package cannot be installed, dockerd dies). Tests then fail under CI=true and
# skip otherwise.
set -euo pipefail
dir=${SKIFF_DOCKERD_DIR:-/tmp/skiff-dockerd}
sock=$dir/docker.sock
log=$dir/dockerd.log

fail() {
  echo "dockerd.sh: $*" >&2
  exit 1
}
answers() {
  curl -fsS --max-time 2 --unix-socket "$sock" http://docker/_ping >/dev/null 2>&1
}

if [ "${1:-}" = stop ]; then
  if [ -f "$dir/dockerd.pid" ]; then
    pid=$(cat "$dir/dockerd.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  # The daemon leaves its network namespace handle mounted.
  umount "$dir/exec/netns/default" 2>/dev/null || true
  exit 0
fi

if answers; then
  echo "unix://$sock"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || fail "needs root to start dockerd (or start one and set its socket at $sock)"
mkdir -p "$dir"
# Several test processes may get here at once: one installs and starts.
exec 9>"$dir/lock"
flock 9
if answers; then
  echo "unix://$sock"
  exit 0
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
  setsid dockerd --data-root "$dir/root" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" \
    --host "unix://$sock" --iptables=false --ip6tables=false --bridge=none \
    "$@" </dev/null >>"$log" 2>&1 9>&- &
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
echo "unix://$sock"
