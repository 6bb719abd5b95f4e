#!/usr/bin/env bash
# Sets everything up, builds, and shows tether doing its jobs on loopback:
# a fortune over TCP (event-driven and blocking clients, single-threaded and
# threaded servers) and an echo round trip with verified bytes.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
echo "== building (release preset)"
cmake --preset release >/dev/null
cmake --build --preset release --target fortune_server fortune_client threaded_fortune_server \
  blocking_fortune_client echo >/dev/null
bin=build/release/examples

server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true; }
trap cleanup EXIT

# Starts a server in the background and waits (on its output, not a sleep)
# for the line that names its port.
start_server() {
  coproc SERVER { exec "$@"; }
  server_pid=$SERVER_PID
  local line
  if ! read -r -t 10 line <&"${SERVER[0]}"; then
    echo "demo: $1 did not start" >&2
    exit 1
  fi
  echo "   $line"
  port=$(grep -Eo 'port [0-9]+' <<<"$line" | cut -d' ' -f2)
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

echo
echo "== fortune over TCP: fortune_server + fortune_client (event loop)"
start_server "$bin/fortune_server/fortune_server"
echo -n "   fortune: "
"$bin/fortune_client/fortune_client" 127.0.0.1 "$port"
echo "== the same server, blocking client on a thread without an event loop (3 fortunes)"
"$bin/blocking_fortune_client/blocking_fortune_client" localhost "$port" 3 | sed 's/^/   fortune: /'
stop_server

echo
echo "== threaded fortune server (descriptors handed to 2 worker loops) + blocking client"
start_server "$bin/threaded_fortune_server/threaded_fortune_server" 0 2
"$bin/blocking_fortune_client/blocking_fortune_client" 127.0.0.1 "$port" 4 | sed 's/^/   fortune: /'
stop_server

echo
echo "== echo round trip: 8 messages from 16 B to 1 MiB, every byte checked"
"$bin/echo/echo" 8 | sed 's/^/   /'
echo
echo "demo: all jobs done"
