#!/usr/bin/env bash
# Sets everything up, builds, and shows the seed jobs end to end on loopback
# with the `tether` tool: a generated file sent with a live progress bar and
# verified; a fortune over TCP and over a local socket; a UDP broadcast round
# trip; and the C++ examples (threaded server, blocking client, echo).
# Nothing leaves this machine.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
echo "== building (release preset)"
cmake --preset release >/dev/null
cmake --build --preset release --target tether_cli threaded_fortune_server blocking_fortune_client \
  echo >/dev/null
tether=build/release/tools/tether/tether
examples=build/release/examples

work=$(mktemp -d /tmp/tether-demo.XXXXXX)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Starts a server in the background and waits, on its own output (never a
# sleep), for the first line: "port N" or "name NAME".
start_server() {
  coproc SERVER { exec "$@" 2>&1; }
  server_pid=$SERVER_PID
  # bash forgets the coprocess's descriptors once it exits: keep a copy.
  exec {server_out}<&"${SERVER[0]}"
  if ! read -r -t 20 first_line <&"$server_out"; then
    echo "demo: $1 did not start" >&2
    exit 1
  fi
  port=$(grep -Eo 'port [0-9]+' <<<"$first_line" | cut -d' ' -f2 || true)
}

# Waits for the background server to finish by itself, showing its output.
finish_server() {
  sed 's/^/   server: /' <&"$server_out" || true
  exec {server_out}<&-
  wait "$server_pid" || { echo "demo: server failed" >&2; exit 1; }
  server_pid=""
}

echo
echo "== 1. file transfer (seed 003, tether's verified mode): 256 MiB generated, sent, checked"
head -c $((256 * 1024 * 1024)) /dev/urandom >"$work/demo.bin"
mkdir -p "$work/inbox"
start_server "$tether" receive --port 0 --dir "$work/inbox" --once --quiet
echo "   receiver: $first_line"
"$tether" send "$work/demo.bin" "127.0.0.1:$port"
finish_server
sent=$(sha256sum <"$work/demo.bin" | cut -d' ' -f1)
got=$(sha256sum <"$work/inbox/demo.bin" | cut -d' ' -f1)
if [ "$sent" != "$got" ]; then
  echo "demo: the received file differs" >&2
  exit 1
fi
echo "   sha256 of the sent and the received file: $got (identical)"

echo
echo "== 2. fortune over TCP (Qt's Fortune Server/Client protocol)"
start_server "$tether" fortune-server --port 0 --count 1
echo "   server: $first_line"
echo "   fortune: $("$tether" fortune "127.0.0.1:$port")"
finish_server

echo
echo "== 3. fortune over a local socket (seed 002: quint16 size + QString, Qt_4_0)"
name="tether-demo-$$"
start_server "$tether" fortune-server --local "$name" --count 1
echo "   server: $first_line"
echo "   fortune: $("$tether" fortune --local "$name")"
finish_server

echo
echo "== 4. UDP broadcast round trip on the loopback broadcast address 127.255.255.255"
start_server "$tether" broadcast receive --port 0 --count 3
echo "   receiver: $first_line"
"$tether" broadcast send --port "$port" --count 3 --interval 100 | sed 's/^/   sender: /'
finish_server

echo
echo "== 5. threaded fortune server (descriptors handed to 2 worker loops) + blocking client"
start_server "$examples/threaded_fortune_server/threaded_fortune_server" 0 2
"$examples/blocking_fortune_client/blocking_fortune_client" 127.0.0.1 "$port" 3 | sed 's/^/   fortune: /'
kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
exec {server_out}<&-
server_pid=""

echo
echo "== 6. echo round trip: 8 messages from 16 B to 1 MiB, every byte checked"
"$examples/echo/echo" 8 | sed 's/^/   /'

echo
echo "demo: all jobs done"
