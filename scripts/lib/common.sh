#!/usr/bin/env bash
# Common helpers for hallmark's scripts. Source it, do not execute it:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
#
# Provides: log/warn/die, step headers with timings, apt_ensure, the test cache directory,
# free_port, wait_http and run_bounded (a command with a hard time limit that Ctrl-C still stops).

set -euo pipefail

HALLMARK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export HALLMARK_ROOT

# Downloaded test tools (skopeo 1.18 and its libraries) live here, outside the work tree.
HALLMARK_TEST_CACHE="${HALLMARK_TEST_CACHE:-${XDG_CACHE_HOME:-${HOME:-$(cd ~ && pwd)}/.cache}/hallmark-test}"
export HALLMARK_TEST_CACHE

_SCRIPT_NAME="$(basename "$0")"
_SCRIPT_T0="$(date +%s%3N)"

now_ms() { date +%s%3N; }

# fmt_ms MS -> "1.234 s" / "2 min 03 s"
fmt_ms() {
  local ms="$1"
  if [ "$ms" -ge 120000 ]; then
    printf '%d min %02d s' $((ms / 60000)) $(((ms / 1000) % 60))
  else
    printf '%d.%03d s' $((ms / 1000)) $((ms % 1000))
  fi
}

log() { echo "[$_SCRIPT_NAME] $*" >&2; }
warn() { echo "[$_SCRIPT_NAME] WARNING: $*" >&2; }
die() {
  echo "[$_SCRIPT_NAME] ERROR: $*" >&2
  exit 1
}

# step "title": prints a header; the previous step's duration is printed by step_done.
_STEP_T0=""
_STEP_NAME=""
step() {
  _STEP_NAME="$1"
  _STEP_T0="$(now_ms)"
  echo >&2
  echo "==> $_STEP_NAME" >&2
}
# step_done [status] : prints "<== title: status (duration)"
step_done() {
  local status="${1:-ok}"
  echo "<== $_STEP_NAME: $status ($(fmt_ms $(($(now_ms) - _STEP_T0))))" >&2
}
total_elapsed() { fmt_ms $(($(now_ms) - _SCRIPT_T0)); }

# as_root CMD... : run as root (directly, or through sudo when available)
as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# apt_ensure PKG... : install the Debian packages that are missing. apt-get update runs at most
# once per script run, and only when something has to be installed. Waits up to 300 s for a dpkg
# lock held by someone else.
_APT_UPDATED=0
apt_ensure() {
  local missing=() p
  for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
  if [ ${#missing[@]} -eq 0 ]; then
    log "Debian packages present: $*"
    return 0
  fi
  if [ "$_APT_UPDATED" = 0 ]; then
    log "apt-get update (missing: ${missing[*]})"
    as_root timeout 600 apt-get -o DPkg::Lock::Timeout=300 -o Acquire::Retries=3 update -q >&2
    _APT_UPDATED=1
  fi
  log "apt-get install ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q --no-install-recommends \
    -o DPkg::Lock::Timeout=300 -o Acquire::Retries=3 "${missing[@]}" >&2
}

# free_port : prints a TCP port on 127.0.0.1 that was free a moment ago
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL [TIMEOUT_S] : poll until URL answers with any HTTP status below 500
wait_http() {
  local url="$1" t="${2:-30}" deadline code
  deadline=$(($(now_ms) + t * 1000))
  while [ "$(now_ms)" -lt "$deadline" ]; do
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" || true)"
    if [ -n "$code" ] && [ "$code" != 000 ] && [ "$code" -lt 500 ]; then return 0; fi
    sleep 0.1
  done
  warn "no answer from $url within ${t}s"
  return 1
}

# run_bounded SECONDS CMD... : run CMD with a hard time limit (SIGTERM, SIGKILL 30 s later) that
# also reaches its children. timeout(1) runs the command in its own process group, so a Ctrl-C
# on the script would not reach it; the trap below forwards INT/TERM to it.
# Returns the command's status (124 on timeout).
_BOUNDED_PID=""
_forward_signal() {
  if [ -n "$_BOUNDED_PID" ]; then
    kill -TERM "$_BOUNDED_PID" 2>/dev/null || true
    wait "$_BOUNDED_PID" 2>/dev/null || true
  fi
  echo "[$_SCRIPT_NAME] interrupted" >&2
  exit 130
}
trap _forward_signal INT TERM
run_bounded() {
  local secs="$1" rc=0
  shift
  timeout --kill-after=30 "$secs" "$@" </dev/null &
  _BOUNDED_PID=$!
  wait "$_BOUNDED_PID" || rc=$?
  _BOUNDED_PID=""
  if [ "$rc" = 124 ]; then warn "timed out after ${secs}s: $*"; fi
  return "$rc"
}

# registry_start DIR [LOG_LEVEL] : starts docker-registry on 127.0.0.1:<free port> with filesystem
# storage in DIR/data (deletes enabled). Sets REGISTRY_ADDR and REGISTRY_PID. The caller stops it
# with registry_stop (put it in an EXIT trap).
REGISTRY_PID=""
REGISTRY_ADDR=""
registry_start() {
  local dir="$1" level="${2:-error}" port t0 attempt
  mkdir -p "$dir/data"
  for attempt in 1 2 3; do
    port="$(free_port)"
    cat >"$dir/config.yml" <<YML
version: 0.1
log:
  level: $level
  accesslog: {disabled: true}
storage:
  filesystem: {rootdirectory: $dir/data}
  delete: {enabled: true}
  cache: {blobdescriptor: inmemory}
http:
  addr: 127.0.0.1:$port
YML
    t0="$(now_ms)"
    docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 </dev/null &
    REGISTRY_PID=$!
    REGISTRY_ADDR="127.0.0.1:$port"
    if wait_http "http://$REGISTRY_ADDR/v2/" 20 && kill -0 "$REGISTRY_PID" 2>/dev/null; then
      log "docker-registry on http://$REGISTRY_ADDR (PID $REGISTRY_PID, up in $(($(now_ms) - t0)) ms)"
      return 0
    fi
    warn "registry on port $port did not come up (attempt $attempt): $(tail -3 "$dir/registry.log")"
    registry_stop
  done
  die "could not start docker-registry"
}

# registry_stop : stops the registry started by registry_start (SIGTERM, SIGKILL after 10 s)
registry_stop() {
  [ -n "$REGISTRY_PID" ] || return 0
  local i
  kill -TERM "$REGISTRY_PID" 2>/dev/null || true
  for i in $(seq 100); do
    kill -0 "$REGISTRY_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$REGISTRY_PID" 2>/dev/null || true
  wait "$REGISTRY_PID" 2>/dev/null || true
  REGISTRY_PID=""
}

# hallmark_release_bin : prints the hallmark binary the benchmarks run: $HALLMARK_BIN when set,
# else target/release/hallmark, built first (--locked when Cargo.lock exists).
hallmark_release_bin() {
  local hm locked=()
  if [ -n "${HALLMARK_BIN:-}" ]; then
    hm="$HALLMARK_BIN"
    log "using HALLMARK_BIN=$hm (not building)"
  else
    [ -f "$HALLMARK_ROOT/Cargo.lock" ] && locked=(--locked)
    (cd "$HALLMARK_ROOT" && run_bounded "${CMD_TIMEOUT:-1800}" cargo build --release -p hallmark "${locked[@]}") >&2 ||
      die "cargo build --release -p hallmark failed"
    hm="$(cd "$HALLMARK_ROOT" && cargo metadata --format-version 1 --no-deps 2>/dev/null | jq -r .target_directory)/release/hallmark"
  fi
  [ -x "$hm" ] || die "hallmark binary not found at $hm"
  printf '%s\n' "$hm"
}

# make_test_pki DIR NAME... : a throwaway CA (DIR/ca.crt) and, for each NAME, a P-256 server and
# client certificate for 127.0.0.1 and localhost (DIR/NAME.crt, DIR/NAME.key), valid 2 days.
make_test_pki() {
  local dir="$1"
  shift
  mkdir -p "$dir"
  cat >"$dir/ext.cnf" <<'EOF'
[x_srv]
basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:localhost,IP:127.0.0.1
[x_testca]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
EOF
  (
    cd "$dir" || exit 1
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key 2>/dev/null
    openssl req -x509 -new -key ca.key -sha256 -days 2 -subj "/CN=bench CA" -extensions x_testca -config ext.cnf -out ca.crt 2>/dev/null
    for n in "$@"; do
      openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$n.key" 2>/dev/null
      openssl req -new -key "$n.key" -subj "/CN=$n" -config ext.cnf -out "$n.csr" 2>/dev/null
      openssl x509 -req -in "$n.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -sha256 \
        -extfile ext.cnf -extensions x_srv -out "$n.crt" 2>/dev/null
    done
  ) || die "openssl failed"
}

# wait_tls URL [CA] : until GET URL over TLS (trusting CA, default $CA) answers 200 (60 s)
wait_tls() {
  local i ca="${2:-$CA}"
  for ((i = 0; i < 600; i++)); do
    curl -sf --cacert "$ca" -o /dev/null --max-time 1 "$1" && return 0
    sleep 0.1
  done
  return 1
}

# bench_workdir NAME : WORK, a fresh temporary directory, and PIDS, the background servers a
# benchmark starts. On exit the servers in PIDS get SIGTERM (and are waited for), the registry
# is stopped, and WORK is removed (kept with HALLMARK_BENCH_KEEP=1).
bench_workdir() {
  WORK="$(mktemp -d -t "hallmark-bench-$1.XXXXXX")"
  PIDS=()
  trap _bench_cleanup EXIT
}

_bench_cleanup() {
  local rc=$? p
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  registry_stop
  if [ "${HALLMARK_BENCH_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}

# pip_venv VENV PIP_ARGS... : a fresh private virtualenv at VENV (in the test cache) with
# `pip install PIP_ARGS...` run in it, bounded; dies naming what failed.
pip_venv() {
  local venv="$1"
  shift
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv" >&2 || die "python3 -m venv failed (install python3-venv)"
  run_bounded 900 "$venv/bin/pip" install --quiet --disable-pip-version-check "$@" >&2 ||
    die "pip install $* failed"
}
