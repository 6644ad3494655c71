#!/usr/bin/env bash
# Captures the allocations of a real HTTP server: Debian's nginx (package
# nginx) serving a static file on 127.0.0.1, driven by wrk (package wrk)
# with keep-alive GETs, under `alloclab trace capture`. Everything nginx
# writes (config, pid, logs, temp paths, the document root) lives in a
# temporary directory that is removed at the end; no system file is touched.
#
#   scripts/capture-nginx.sh [-d SECONDS] [-c CONNECTIONS] [-s FILE_BYTES] [-o FILE] [--baseline]
#
#   -d  how long wrk drives the server (default 5)
#   -c  concurrent keep-alive connections (default 4)
#   -s  size of the static file served (default 4096)
#   -o  the trace to write (default nginx.trace)
#   --baseline  first run the same load against an untraced nginx and print
#               both request rates: the capture's overhead on a server
# ALLOCLAB names the alloclab binary (default build/alloclab).
#
# nginx runs as `master_process on; worker_processes 1`: the master forks
# the worker, and the trace is the worker's (the process with the most
# events; alloclab names the master too). Run as root, the worker keeps
# root's user (`user root`), since nginx would otherwise switch it to
# nobody, who can neither read the document root nor write the capture.
# Every step has a time limit, so the script cannot hang.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

duration=5
connections=4
file_bytes=4096
out=nginx.trace
baseline=0
alloclab=${ALLOCLAB:-$repo/build/alloclab}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "$1"; }
while (($#)); do
  case "$1" in
    -d) duration=$2; shift 2 ;;
    -c) connections=$2; shift 2 ;;
    -s) file_bytes=$2; shift 2 ;;
    -o) out=$2; shift 2 ;;
    --baseline) baseline=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "capture-nginx: unknown argument $1" >&2; usage 2 ;;
  esac
done
bad() { echo "capture-nginx: $1" >&2; exit 2; }
[[ $duration =~ ^[0-9]+$ && $duration -ge 1 && $duration -le 600 ]] || bad "-d takes 1..600"
[[ $connections =~ ^[0-9]+$ && $connections -ge 1 && $connections -le 1000 ]] || bad "-c takes 1..1000"
[[ $file_bytes =~ ^[0-9]+$ && $file_bytes -le 100000000 ]] || bad "-s takes 0..100000000"
# nginx and wrk are needed here only, so they are installed here, on first
# use, with service starts forbidden (the package would otherwise start a
# system nginx on port 80).
export PATH=$PATH:/usr/sbin:/sbin
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
  [[ $(id -u) -eq 0 ]] || bad "nginx or wrk missing; as root: apt-get install nginx wrk"
  echo "capture-nginx: installing nginx wrk" >&2
  policy=/usr/sbin/policy-rc.d
  [[ -e $policy ]] && bad "$policy exists; install nginx and wrk yourself"
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx wrk >/dev/null ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx wrk >/dev/null; }
  rm -f "$policy"
  trap - EXIT
fi
for tool in nginx wrk timeout; do
  command -v "$tool" >/dev/null || bad "$tool not found (Debian packages: nginx wrk coreutils)"
done
[[ -x $alloclab ]] || bad "$alloclab not built (scripts/build.sh)"
out=$(realpath -m "$out")
alloclab=$(realpath -m "$alloclab")

dir=$(mktemp -d "${TMPDIR:-/tmp}/alloclab-nginx.XXXXXX")
server_pid=""
load_pid=""
cleanup() {
  if [[ -n $load_pid ]]; then kill -TERM "$load_pid" 2>/dev/null || true; fi
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    timeout 10 tail --pid="$server_pid" -f /dev/null || kill -KILL "$server_pid" 2>/dev/null || true
  fi
  # A master that outlived alloclab (alloclab was killed): stop it too,
  # if the pid is still that nginx.
  local master
  master=$(cat "$dir/nginx.pid" 2>/dev/null || true)
  if [[ -n $master ]] && grep -qF "$dir" "/proc/$master/cmdline" 2>/dev/null; then
    kill -KILL "$master" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port nothing listens on: connecting to it fails.
port=""
for _ in $(seq 50); do
  candidate=$((20000 + RANDOM % 40000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then port=$candidate; break; fi
done
[[ -n $port ]] || { echo "capture-nginx: no free port found" >&2; exit 1; }

mkdir -p "$dir/www" "$dir/tmp"
head -c "$file_bytes" /dev/zero | tr '\0' 'a' >"$dir/www/index.html"
user_line=""
[[ $(id -u) -eq 0 ]] && user_line="user root root;"
cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
$user_line
pid $dir/nginx.pid;
error_log $dir/error.log notice;
events { worker_connections 1024; }
http {
  types { text/html html; }
  default_type application/octet-stream;
  access_log $dir/access.log;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  sendfile on;
  server {
    listen 127.0.0.1:$port;
    root $dir/www;
  }
}
EOF
nginx_cmd=(nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log")

wait_listening() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "capture-nginx: nginx did not start listening on 127.0.0.1:$port; its error log:" >&2
  cat "$dir/error.log" >&2 || true
  return 1
}

# Drives the server, stops it gracefully (SIGQUIT to the master) and waits
# for $server_pid; prints wrk's report and returns its request rate in $rate.
drive() {
  wait_listening
  # In the background, so that a signal to this script is handled at once.
  timeout $((duration + 30)) wrk -t1 -c"$connections" -d"${duration}s" --latency \
    "http://127.0.0.1:$port/index.html" >"$dir/wrk.txt" &
  load_pid=$!
  wait "$load_pid"
  load_pid=""
  cat "$dir/wrk.txt"
  rate=$(awk '/^Requests\/sec:/ {print $2}' "$dir/wrk.txt")
  kill -QUIT "$(cat "$dir/nginx.pid")"
  local status=0
  wait "$server_pid" || status=$?
  server_pid=""
  return "$status"
}

if ((baseline)); then
  echo "== untraced nginx on 127.0.0.1:$port, wrk -c$connections -d${duration}s"
  timeout -k 5 $((duration + 60)) "${nginx_cmd[@]}" &
  server_pid=$!
  drive
  untraced_rate=$rate
fi

echo "== traced nginx on 127.0.0.1:$port, wrk -c$connections -d${duration}s"
timeout -k 5 $((duration + 120)) "$alloclab" trace capture -o "$out" -- "${nginx_cmd[@]}" &
server_pid=$!
drive
traced_rate=$rate

if ((baseline)); then
  awk -v u="$untraced_rate" -v t="$traced_rate" \
    'BEGIN { printf "requests/s: untraced %.0f, traced %.0f, traced/untraced %.3f\n", u, t, (u > 0 ? t / u : 0) }'
fi
echo "== $out"
timeout 120 "$alloclab" trace info "$out"
