#!/usr/bin/env bash
# Profiles one server on one workload: a CPU profile (perf record -e
# cpu-clock, call graphs) and the system calls per message (strace -c -f).
# Pinned and bounded like the suite: server on cpu 0, load generator on cpu 1.
#
#   bench/profile.sh [--out DIR] [--seconds T] BENCH_DIR SERVER MODE [LOADGEN ARGS...]
#
#   bench/profile.sh build/release/bench tether_server echo --mode pingpong --size 65536
#   bench/profile.sh build/release/bench raw_server udp --mode udp --size 32
#
# MODE is the server's --mode (echo|sink|close|udp; "unix" = echo over a
# Unix-domain socket). Writes DIR/<server>-<mode>.perf.txt (hottest
# functions, self time), .callers.txt (call graphs) and .strace.txt (system
# calls, with calls per message). Needs perf (linux-perf) and strace.
set -euo pipefail

out=profile-results
seconds=5
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    *) break ;;
  esac
done
if [ $# -lt 3 ]; then
  sed -n '2,15p' "$0" >&2
  exit 2
fi
bench_dir=$1 server=$2 mode=$3
shift 3
mkdir -p "$out"
name="$out/${server}-${mode}"
for tool in perf strace; do
  command -v "$tool" >/dev/null || { echo "profile.sh: $tool is not installed" >&2; exit 2; }
done

server_pid= load_pid= wrapper_pid=
cleanup() {
  # Children first: a killed `timeout` or strace leaves its command running
  # (a traced server is detached, not killed, when strace dies).
  for pid in $load_pid $server_pid $wrapper_pid; do
    pkill -KILL -P "$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -f "$fifo" "${sock:-}"
}
fifo=$(mktemp -u /tmp/tether-profile.XXXXXX)
mkfifo "$fifo"
trap cleanup EXIT INT TERM

# Starts the server (under the command in $wrapper, if any); sets
# server_pid (the server's own) and target (loadgen's address options).
wrapper=()
start_server() {
  local extra=() sock_opt=()
  if [ "$mode" = unix ]; then
    sock=/tmp/tether-profile-$$.sock
    extra=(--mode echo --unix "$sock")
    sock_opt=(--unix "$sock")
  else
    extra=(--mode "$mode")
  fi
  "${wrapper[@]}" "$bench_dir/$server" "${extra[@]}" --port 0 --cpu 0 >"$fifo" &
  server_pid=$!
  exec 3<"$fifo"
  local line
  read -r -t 10 line <&3 || { echo "profile.sh: $server did not start" >&2; exit 1; }
  if [ ${#wrapper[@]} -gt 0 ]; then
    wrapper_pid=$server_pid
    server_pid=$(pgrep -P "$wrapper_pid" | head -1)
  fi
  if [ "$mode" = unix ]; then
    target=("${sock_opt[@]}")
  else
    target=(--port "${line#port }")
  fi
}

stop_server() {
  kill -TERM "$server_pid" 2>/dev/null || true
  timeout 10 cat <&3 >/dev/null || true
  exec 3<&-
  wait "${wrapper_pid:-$server_pid}" 2>/dev/null || true
  server_pid= wrapper_pid=
}

# Runs the load generator for 1 s of warm-up plus the measured time while
# `$@` (the profiler; the word PID stands for the server's) watches the
# server; prints the loadgen's JSON.
profile_run() {
  start_server
  timeout $((seconds + 40)) "$bench_dir/loadgen" "${target[@]}" --cpu 1 --warmup 1 \
    --seconds "$seconds" "${loadgen_args[@]}" >"$name.loadgen.json" &
  load_pid=$!
  sleep 1.5  # connections up, warm-up under way
  if [ $# -gt 0 ]; then
    local cmd=("${@/#PID/$server_pid}")
    timeout -s INT $((seconds + 5)) "${cmd[@]}" || true
  fi
  wait "$load_pid" || { echo "profile.sh: loadgen failed" >&2; exit 1; }
  load_pid=
  stop_server
  cat "$name.loadgen.json"
}

loadgen_args=("$@")
window=$((seconds - 1))

echo "== perf record ($server, $mode, ${window}s)"
profile_run perf record -q -e cpu-clock --call-graph dwarf,16384 -o "$name.perf.data" -p PID -- sleep "$window" >/dev/null
perf report -i "$name.perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null \
  >"$name.perf.full" || true
grep '%' "$name.perf.full" | grep -v '^#' | sed -n '1,45p' >"$name.perf.txt" || true
perf report -i "$name.perf.data" --no-children --sort symbol --stdio -g caller,0.5,callee \
  2>/dev/null >"$name.callers.txt" || true
rm -f "$name.perf.full"

echo "== strace -c -f ($server, $mode, its whole life)"
# The server runs under strace from its start, so its calls are divided by
# every message of its life (the load generator's total_messages). Tracing
# slows it down; the calls per message stay meaningful, the rate does not.
wrapper=(strace -c -f -o "$name.strace.raw")
json=$(profile_run)
wrapper=()
messages=$(sed -n 's/.*"total_messages":\([0-9]*\).*/\1/p' <<<"$json")
{
  echo "messages (round trips, chunks or datagrams sent) in the server's life: $messages"
  awk -v msgs="$messages" '
    /^-/ || /^%/ || /total/ { print; next }
    NF >= 5 { calls = ($4 ~ /^[0-9]+$/) ? $4 : $5
              printf "%s   (%.3f per message)\n", $0, (msgs > 0 ? calls / msgs : 0); next }
    { print }' "$name.strace.raw"
} >"$name.strace.txt"
echo "wrote $name.perf.txt, $name.callers.txt, $name.strace.txt"
