#!/usr/bin/env bash
# Installs every Debian package tether's build, tests, examples and benchmarks
# need. Idempotent: packages already present are not touched, and apt is only
# consulted when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libgtest-dev libgmock-dev
  libc-ares-dev libssl-dev
  libcli11-dev libfmt-dev nlohmann-json3-dev
  dnsmasq-base iproute2 procps
  # interop peers (real Qt 5 and Qt 6) and the fuzzers (clang's libFuzzer)
  qtbase5-dev qt6-base-dev
  clang libclang-rt-14-dev
  libboost-dev libuv1-dev  # benchmark peers (Boost.Asio, libuv) beside Qt 5
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: need root to install packages (run as root or with sudo)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
