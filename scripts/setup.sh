#!/usr/bin/env bash
# Installs the Debian 12 packages Skiff needs to build and test, skipping those
# already present, so it is cheap to run before every build.
set -euo pipefail

packages=(
  g++ cmake ninja-build make pkg-config curl ca-certificates python3 clang-format git
  lld  # links the big test binaries several times faster than GNU ld
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libexpected-dev libsqlite3-dev libpq-dev libssl-dev libyaml-cpp-dev zlib1g-dev
  libspdlog-dev libfmt-dev libcli11-dev
  libargon2-dev  # users' passwords are hashed with Argon2id
  googletest libgtest-dev libgmock-dev
  postgresql-15  # the PostgreSQL store's tests start their own server (initdb in a temp dir)
  prometheus  # for promtool: the end-to-end tests check /metrics with `promtool check metrics`
  liburing-dev  # the edge's io_uring engine (without it, the edge has epoll alone)
  pebble  # a real ACME server (with pebble-challtestsrv as its DNS) for the ACME client's tests
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
