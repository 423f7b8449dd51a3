#!/usr/bin/env bash
# ./scripts/bench tlog — the transparency log server (`hallmark log serve`, SQLite), sourced by
# scripts/bench. Prints:
#   - sustained durable appends/s with CLIENTS concurrent clients on loopback, and the p50/p99
#     latency from submission to a verified inclusion proof (each answer's proof is checked by
#     the load generator, `hallmark debug tlog-load`, which pre-signs its entries); the
#     server's CPU time per append; and the cryptography an append needs (the entry's
#     signature check and its SET, measured on one core), with the rate that alone allows;
#   - inclusion proofs (GET /api/v1/log/entries?logIndex=) and consistency proofs
#     (GET /api/v1/log/proof) served per second from a log of SEED entries (seeded through the
#     sequencer in large batches, `hallmark debug tlog-seed`);
#   - the same appends on an empty log whose checkpoints two `hallmark witness serve` processes
#     cosign (witness policy, quorum 2): the rate, p50/p99, and how far the cosigned checkpoint
#     trails the tree (appends never wait for witnesses);
#   - the server's RSS over time (and the seeder's while the log grows to SEED entries).
# Env: HALLMARK_BENCH_TLOG_CLIENTS (64), HALLMARK_BENCH_TLOG_DURATION (10s),
#      HALLMARK_BENCH_TLOG_SEED (1000000), HALLMARK_BIN, HALLMARK_BENCH_KEEP=1.
# Results are also written as JSON to target/bench/tlog.json.

CLIENTS="${HALLMARK_BENCH_TLOG_CLIENTS:-64}"
DURATION="${HALLMARK_BENCH_TLOG_DURATION:-10s}"
SEED="${HALLMARK_BENCH_TLOG_SEED:-1000000}"
[[ "$CLIENTS" =~ ^[1-9][0-9]*$ && "$SEED" =~ ^[1-9][0-9]*$ ]] || die "clients and seed size must be positive integers"
CMD_TIMEOUT=1800

step "setup: hallmark (release build)"
apt_ensure jq curl
command -v python3 >/dev/null || apt_ensure python3
HM="$(hallmark_release_bin)"
"$HM" debug tlog-load --help >/dev/null 2>&1 || die "$HM has no 'debug tlog-load' command"
step_done

WORK="$(mktemp -d -t hallmark-bench-tlog.XXXXXX)"
SERVER_PID=""
SAMPLER_PID=""
WITNESS_PIDS=()
stop_server() {
  if [ -n "$SAMPLER_PID" ]; then kill "$SAMPLER_PID" 2>/dev/null || true; wait "$SAMPLER_PID" 2>/dev/null || true; SAMPLER_PID=""; fi
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 100; i++)); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
cleanup() {
  local rc=$?
  stop_server
  if [ ${#WITNESS_PIDS[@]} -gt 0 ]; then kill "${WITNESS_PIDS[@]}" 2>/dev/null || true; fi
  if [ "${HALLMARK_BENCH_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT

# sample_rss PID OUT : appends "<seconds since start> <RSS kB>" every second while PID lives
sample_rss() {
  local pid="$1" out="$2" t0
  t0="$(now_ms)"
  while kill -0 "$pid" 2>/dev/null; do
    awk -v t="$(( ($(now_ms) - t0) / 1000 ))" '/^VmRSS:/ { print t, $2 }' "/proc/$pid/status" 2>/dev/null >>"$out" || true
    sleep 1
  done
}
rss_summary() { # rss_summary FILE -> "first .. max .. last MiB"
  awk 'NR == 1 { f = $2 } { if ($2 > m) m = $2; l = $2 } END { if (NR) printf "%.0f MiB at start, %.0f MiB max, %.0f MiB at end (%d samples)", f / 1024, m / 1024, l / 1024, NR; else printf "no samples" }' "$1"
}

# start_server DATA_DIR RSS_FILE : sets SERVER_ADDR and SERVER_PID (more `log serve` arguments
# in the array SERVER_EXTRA)
SERVER_EXTRA=()
start_server() {
  local data="$1" rss="$2" port
  port="$(free_port)"
  SERVER_ADDR="127.0.0.1:$port"
  "$HM" log serve --addr "$SERVER_ADDR" --data-dir "$data" --origin bench.local/log "${SERVER_EXTRA[@]}" >>"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  wait_http "http://$SERVER_ADDR/api/v1/log" 60 || { tail -20 "$WORK/server.log" >&2; die "hallmark log serve did not start"; }
  sample_rss "$SERVER_PID" "$rss" &
  SAMPLER_PID=$!
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
load() { # load NAME ARGS... : runs tlog-load, JSON to $WORK/NAME.json (with the server's CPU
  # time per answer, measured over the run, as .server_cpu_us)
  local name="$1" t0 t1 hz
  shift
  hz="$(getconf CLK_TCK)"
  t0="$(cpu_ticks "$SERVER_PID")"
  run_bounded 600 "$HM" debug tlog-load --url "http://$SERVER_ADDR" --clients "$CLIENTS" --duration "$DURATION" "$@" \
    >"$WORK/$name.raw.json" 2>"$WORK/$name.err" || { cat "$WORK/$name.err" >&2; die "tlog-load $name failed"; }
  t1="$(cpu_ticks "$SERVER_PID")"
  jq --argjson ticks "$((t1 - t0))" --argjson hz "$hz" \
    '. + {server_cpu_us: (if .ok > 0 then ($ticks / $hz * 1e6 / .ok) else null end)}' \
    "$WORK/$name.raw.json" >"$WORK/$name.json"
  jq -c . "$WORK/$name.json" >&2
}

# ---------------------------------------------------------------------------------------------
step "appends: $CLIENTS clients for $DURATION on an empty log (SQLite, synchronous=FULL)"
start_server "$WORK/empty" "$WORK/rss-append.txt"
load append --mode append
stop_server
APPEND_RATE="$(jq -r '.per_second | floor' "$WORK/append.json")"
APPEND_P50="$(jq -r '.latency_ms.p50' "$WORK/append.json")"
APPEND_P99="$(jq -r '.latency_ms.p99' "$WORK/append.json")"
APPEND_RSS="$(rss_summary "$WORK/rss-append.txt")"
APPEND_CPU="$(jq -r '.server_cpu_us | floor' "$WORK/append.json")"
FLOOR_VALIDATE="$(jq -r '.crypto_floor.validate_entry_us * 10 | floor / 10' "$WORK/append.json")"
FLOOR_SIGN="$(jq -r '.crypto_floor.sign_set_us * 10 | floor / 10' "$WORK/append.json")"
FLOOR_CEILING="$(jq -r '.crypto_floor.appends_per_second_ceiling | floor' "$WORK/append.json")"
log "appends: $APPEND_RATE/s, p50 $APPEND_P50 ms, p99 $APPEND_P99 ms; server RSS $APPEND_RSS"
step_done

# ---------------------------------------------------------------------------------------------
step "appends with two witnesses: $CLIENTS clients for $DURATION on an empty log whose checkpoints two hallmark witnesses cosign (quorum 2)"
start_server "$WORK/witnessed" "$WORK/rss-witnessed.txt"
LOG_VKEY="$("$HM" log vkey --tlog-url "http://$SERVER_ADDR")"
stop_server
POLICY="$WORK/witness-policy.txt"
: >"$POLICY"
for n in 1 2; do
  wport="$(free_port)"
  "$HM" witness serve --addr "127.0.0.1:$wport" --data-dir "$WORK/witness$n" --name "w$n.bench.local" \
    --log "bench.local/log=$LOG_VKEY" >>"$WORK/witness$n.log" 2>&1 &
  WITNESS_PIDS+=($!)
  wait_http "http://127.0.0.1:$wport/add-checkpoint" 30 || { tail -20 "$WORK/witness$n.log" >&2; die "hallmark witness serve did not start"; }
  echo "witness w$n $("$HM" witness vkey --data-dir "$WORK/witness$n") http://127.0.0.1:$wport" >>"$POLICY"
done
echo "group both all w1 w2" >>"$POLICY"
echo "quorum both" >>"$POLICY"
SERVER_EXTRA=(--witness-policy "$POLICY")
start_server "$WORK/witnessed" "$WORK/rss-witnessed.txt"
load append-witnessed --mode append
WITNESSED_TREE="$(curl -sf "http://$SERVER_ADDR/checkpoint/latest" | sed -n 2p)"
sleep 1
WITNESSED_COSIGNED="$(curl -sf "http://$SERVER_ADDR/checkpoint" | sed -n 2p)"
stop_server
SERVER_EXTRA=()
kill "${WITNESS_PIDS[@]}" 2>/dev/null || true
wait "${WITNESS_PIDS[@]}" 2>/dev/null || true
WITNESS_PIDS=()
W_RATE="$(jq -r '.per_second | floor' "$WORK/append-witnessed.json")"
W_P50="$(jq -r '.latency_ms.p50' "$WORK/append-witnessed.json")"
W_P99="$(jq -r '.latency_ms.p99' "$WORK/append-witnessed.json")"
log "witnessed appends: $W_RATE/s, p50 $W_P50 ms, p99 $W_P99 ms; tree $WITNESSED_TREE, cosigned checkpoint 1 s after the load: ${WITNESSED_COSIGNED:-none}"
step_done

# ---------------------------------------------------------------------------------------------
step "seed a log of $SEED entries through the sequencer (batches of 20000, no HTTP)"
( "$HM" debug tlog-seed --data-dir "$WORK/big" --origin bench.local/log --count "$SEED" --batch 20000 >"$WORK/seed.json" 2>"$WORK/seed.err" ) &
SEED_PID=$!
sample_rss "$SEED_PID" "$WORK/rss-seed.txt" &
SEED_SAMPLER=$!
wait "$SEED_PID" || { cat "$WORK/seed.err" >&2; die "tlog-seed failed"; }
kill "$SEED_SAMPLER" 2>/dev/null || true
wait "$SEED_SAMPLER" 2>/dev/null || true
SEED_RATE="$(jq -r '.appends_per_second | floor' "$WORK/seed.json")"
SEED_RSS="$(rss_summary "$WORK/rss-seed.txt")"
DB_MB="$(du -sm "$WORK/big" | cut -f1)"
log "seeded $SEED entries at $SEED_RATE/s; seeder RSS $SEED_RSS; data dir $DB_MB MB"
step_done

# ---------------------------------------------------------------------------------------------
step "proofs from the $SEED-entry log: $CLIENTS clients for $DURATION each; then appends on it"
start_server "$WORK/big" "$WORK/rss-big.txt"
load inclusion --mode inclusion
load consistency --mode consistency
load append-big --mode append
stop_server
INCL_RATE="$(jq -r '.per_second | floor' "$WORK/inclusion.json")"
CONS_RATE="$(jq -r '.per_second | floor' "$WORK/consistency.json")"
BIG_APPEND_RATE="$(jq -r '.per_second | floor' "$WORK/append-big.json")"
BIG_APPEND_P50="$(jq -r '.latency_ms.p50' "$WORK/append-big.json")"
BIG_APPEND_P99="$(jq -r '.latency_ms.p99' "$WORK/append-big.json")"
BIG_RSS="$(rss_summary "$WORK/rss-big.txt")"
step_done

# ---------------------------------------------------------------------------------------------
echo
echo "tlog benchmark: $(uname -m), $(nproc) CPUs, $("$HM" --version | head -1), SQLite (WAL, synchronous=FULL), loopback"
printf '  %-58s %s\n' \
  "durable appends/s, $CLIENTS clients, empty log" "$APPEND_RATE" \
  "  latency submit -> verified inclusion proof p50 / p99" "$APPEND_P50 ms / $APPEND_P99 ms" \
  "  server CPU per append (all threads)" "$APPEND_CPU us" \
  "  cryptography per append on one core: entry check + SET" "$FLOOR_VALIDATE us + $FLOOR_SIGN us" \
  "  ceiling from that alone on $(nproc) CPUs (nothing else running)" "$FLOOR_CEILING appends/s" \
  "durable appends/s, $CLIENTS clients, empty log, 2 witnesses (quorum 2)" "$W_RATE" \
  "  latency p50 / p99 with witnesses (appends never wait for them)" "$W_P50 ms / $W_P99 ms" \
  "  tree size at the end / cosigned checkpoint 1 s later" "$WITNESSED_TREE / ${WITNESSED_COSIGNED:-none}" \
  "durable appends/s, $CLIENTS clients, log of $SEED" "$BIG_APPEND_RATE" \
  "  latency p50 / p99, log of $SEED" "$BIG_APPEND_P50 ms / $BIG_APPEND_P99 ms" \
  "inclusion proofs/s (GET entry by index, SET signed per read), log of $SEED" "$INCL_RATE" \
  "consistency proofs/s (GET /api/v1/log/proof), log of $SEED" "$CONS_RATE" \
  "seeding through the sequencer (entries/s)" "$SEED_RATE" \
  "server RSS, appends on the empty log" "$APPEND_RSS" \
  "seeder RSS while the log grows to $SEED" "$SEED_RSS" \
  "server RSS, proofs and appends on the log of $SEED" "$BIG_RSS" \
  "data directory size at $SEED entries" "$DB_MB MB"
mkdir -p "$HALLMARK_ROOT/target/bench"
jq -n --slurpfile a "$WORK/append.json" --slurpfile s "$WORK/seed.json" --slurpfile i "$WORK/inclusion.json" \
  --slurpfile c "$WORK/consistency.json" --slurpfile b "$WORK/append-big.json" \
  --slurpfile wa "$WORK/append-witnessed.json" \
  --rawfile ra "$WORK/rss-append.txt" --rawfile rs "$WORK/rss-seed.txt" --rawfile rb "$WORK/rss-big.txt" \
  --arg cpus "$(nproc)" --arg db "$DB_MB" '{
    cpus: ($cpus | tonumber), append_empty: $a[0], seed: $s[0], inclusion: $i[0], consistency: $c[0],
    append_big: $b[0], append_witnessed: $wa[0], data_dir_mb: ($db | tonumber),
    rss_kb: {append_empty: ($ra | split("\n") | map(select(length > 0) | split(" ") | map(tonumber))),
             seed: ($rs | split("\n") | map(select(length > 0) | split(" ") | map(tonumber))),
             big: ($rb | split("\n") | map(select(length > 0) | split(" ") | map(tonumber)))}}' \
  >"$HALLMARK_ROOT/target/bench/tlog.json"
log "results: target/bench/tlog.json; total $(total_elapsed)"
