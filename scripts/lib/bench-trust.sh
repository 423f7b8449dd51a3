#!/usr/bin/env bash
# ./scripts/bench trust — the trust server (`hallmark trust serve`, SQLite) side by side with
# notary-server 0.7.0 (Debian; memory storage, keys in notary-signer 0.7.0 over mutual TLS,
# ecdsa), both over TLS on 127.0.0.1, with the same notary 0.7.0 CLI as client. Sourced by
# scripts/bench. ROUNDS rounds, the two servers in alternating order, each round on fresh
# repositories (medians reported):
#   - `notary init -p`;
#   - `notary add` of N targets (local, not timed) then one `notary publish` (timed);
#   - `notary list` (3 runs per round);
#   - M x `notary add -p` (one publish each, timed in total);
# then GET .../timestamp.json with wrk, CONNECTIONS concurrent connections for DURATION.
# Env: HALLMARK_BENCH_TRUST_TARGETS (N, 100), HALLMARK_BENCH_TRUST_ADD_P (M, 100; 0 skips),
#      HALLMARK_BENCH_TRUST_DURATION (10s), HALLMARK_BENCH_TRUST_CONNECTIONS (64),
#      HALLMARK_BENCH_TRUST_THREADS (2), HALLMARK_BENCH_TRUST_ROUNDS (5), HALLMARK_BIN,
#      HALLMARK_BENCH_KEEP=1.
# Results are also written as JSON to target/bench/trust.json.

N_TARGETS="${HALLMARK_BENCH_TRUST_TARGETS:-100}"
N_ADD_P="${HALLMARK_BENCH_TRUST_ADD_P:-100}"
DURATION="${HALLMARK_BENCH_TRUST_DURATION:-10s}"
CONNECTIONS="${HALLMARK_BENCH_TRUST_CONNECTIONS:-64}"
THREADS="${HALLMARK_BENCH_TRUST_THREADS:-2}"
ROUNDS="${HALLMARK_BENCH_TRUST_ROUNDS:-5}"
[[ "$N_TARGETS" =~ ^[1-9][0-9]*$ && "$N_ADD_P" =~ ^[0-9]+$ && "$CONNECTIONS" =~ ^[1-9][0-9]*$ && "$ROUNDS" =~ ^[1-9][0-9]*$ ]] ||
  die "target counts and connections must be integers"
CMD_TIMEOUT=1800

step "setup: notary 0.7.0, openssl, wrk, hallmark (release build)"
apt_ensure notary openssl wrk jq curl
command -v python3 >/dev/null || apt_ensure python3
HM="$(hallmark_release_bin)"
"$HM" trust serve --help >/dev/null 2>&1 || die "$HM has no 'trust serve' command"
notary version >&2 || true
step_done

bench_workdir trust

export NOTARY_ROOT_PASSPHRASE=bench-root-passphrase
export NOTARY_TARGETS_PASSPHRASE=bench-targets-passphrase
export NOTARY_SNAPSHOT_PASSPHRASE=bench-snapshot-passphrase
export NOTARY_DELEGATION_PASSPHRASE=bench-delegation-passphrase

# ---------------------------------------------------------------------------------------------
step "PKI (openssl): test CA, server and signer certificates for 127.0.0.1"
PKI="$WORK/pki"
make_test_pki "$PKI" server signer
CA="$PKI/ca.crt"
step_done


# ---------------------------------------------------------------------------------------------
step "start notary-signer + notary-server 0.7.0 (memory storage, ecdsa) and hallmark trust serve (SQLite)"
SIGNER_PORT="$(free_port)"
NOTARY_PORT="$(free_port)"
HM_PORT="$(free_port)"
cat >"$WORK/signer.json" <<EOF
{"server": {"grpc_addr": "127.0.0.1:$SIGNER_PORT", "tls_cert_file": "$PKI/signer.crt", "tls_key_file": "$PKI/signer.key", "client_ca_file": "$CA"},
 "logging": {"level": "error"}, "storage": {"backend": "memory"}}
EOF
cat >"$WORK/server.json" <<EOF
{"server": {"http_addr": "127.0.0.1:$NOTARY_PORT", "tls_cert_file": "$PKI/server.crt", "tls_key_file": "$PKI/server.key"},
 "trust_service": {"type": "remote", "hostname": "127.0.0.1", "port": "$SIGNER_PORT", "tls_ca_file": "$CA",
                   "key_algorithm": "ecdsa", "tls_client_cert": "$PKI/server.crt", "tls_client_key": "$PKI/server.key"},
 "logging": {"level": "error"}, "storage": {"backend": "memory"}}
EOF
notary-signer -config "$WORK/signer.json" >"$WORK/signer.log" 2>&1 &
PIDS+=($!)
for ((i = 0; i < 100; i++)); do (echo >"/dev/tcp/127.0.0.1/$SIGNER_PORT") 2>/dev/null && break; sleep 0.1; done
notary-server -config "$WORK/server.json" >"$WORK/notary-server.log" 2>&1 &
PIDS+=($!)
"$HM" trust serve --addr "127.0.0.1:$HM_PORT" --data-dir "$WORK/hallmark-data" \
  --tls-cert "$PKI/server.crt" --tls-key "$PKI/server.key" >"$WORK/hallmark.log" 2>&1 &
PIDS+=($!)
wait_tls "https://127.0.0.1:$NOTARY_PORT/_notary_server/health" || { tail -20 "$WORK/notary-server.log" >&2; die "notary-server did not start"; }
wait_tls "https://127.0.0.1:$HM_PORT/_notary_server/health" || { tail -20 "$WORK/hallmark.log" >&2; die "hallmark trust serve did not start"; }
step_done

for ((i = 0; i < N_TARGETS || i < N_ADD_P; i++)); do echo "target $i" >"$WORK/t$i.txt"; done

ms() { local t="${EPOCHREALTIME/./}"; echo $((10#$t / 1000)); } # wall clock, ms, no subprocess

# client_round NAME URL ROUND : one round of the client workload on fresh GUNs; appends to the
# <NAME>_PUBLISH, <NAME>_LIST and <NAME>_ADDP arrays (ms)
client_round() {
  local name="$1" url="$2" round="$3" t0 t1 i out
  local gun="bench.example/$name/app$round" gun2="bench.example/$name/addp$round"
  local trust="$WORK/trust-$name-$round"
  local N=(notary -d "$trust" -s "$url" --tlscacert "$CA")
  run_bounded 300 "${N[@]}" init -p "$gun" >"$WORK/$name-init.log" 2>&1 || { cat "$WORK/$name-init.log" >&2; die "$name: notary init failed"; }
  for ((i = 0; i < N_TARGETS; i++)); do
    "${N[@]}" add "$gun" "tag$i" "$WORK/t$i.txt" >/dev/null 2>>"$WORK/$name-add.log" || die "$name: notary add failed"
  done
  t0="$(ms)"
  run_bounded 300 "${N[@]}" publish "$gun" >"$WORK/$name-publish.log" 2>&1 || { cat "$WORK/$name-publish.log" >&2; die "$name: notary publish failed"; }
  t1="$(ms)"
  eval "${name}_PUBLISH+=($((t1 - t0)))"
  for i in 1 2 3; do
    t0="$(ms)"
    out="$("${N[@]}" list "$gun" 2>&1)" || die "$name: notary list failed: $out"
    t1="$(ms)"
    eval "${name}_LIST+=($((t1 - t0)))"
  done
  [ "$(grep -c '^tag' <<<"$out")" = "$N_TARGETS" ] || die "$name: notary list shows $(grep -c '^tag' <<<"$out") of $N_TARGETS targets"
  if [ "$N_ADD_P" -gt 0 ]; then
    run_bounded 300 "${N[@]}" init -p "$gun2" >/dev/null 2>&1 || die "$name: notary init failed"
    t0="$(ms)"
    for ((i = 0; i < N_ADD_P; i++)); do
      "${N[@]}" add -p "$gun2" "tag$i" "$WORK/t$i.txt" >/dev/null 2>>"$WORK/$name-addp.log" || { tail "$WORK/$name-addp.log" >&2; die "$name: notary add -p failed"; }
    done
    t1="$(ms)"
    eval "${name}_ADDP+=($((t1 - t0)))"
  fi
}

# reads NAME URL : wrk on GET timestamp.json of the first round's GUN; sets <NAME>_RPS/_P50/_P99
reads() {
  local name="$1" url="$2"
  local ts="$url/v2/bench.example/$name/app1/_trust/tuf/timestamp.json"
  curl -sf --cacert "$CA" -o /dev/null "$ts" || die "$name: GET timestamp.json failed"
  run_bounded 120 wrk -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" --latency "$ts" >"$WORK/$name-wrk.txt" 2>&1 || { cat "$WORK/$name-wrk.txt" >&2; die "$name: wrk failed"; }
  grep -q "Non-2xx" "$WORK/$name-wrk.txt" && { cat "$WORK/$name-wrk.txt" >&2; die "$name: wrk saw errors"; }
  printf -v "${name}_RPS" '%s' "$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$WORK/$name-wrk.txt")"
  printf -v "${name}_P50" '%s' "$(awk '$1 == "50%" { print $2 }' "$WORK/$name-wrk.txt")"
  printf -v "${name}_P99" '%s' "$(awk '$1 == "99%" { print $2 }' "$WORK/$name-wrk.txt")"
  log "$name: GET timestamp.json $(eval echo \$${name}_RPS) req/s"
}

median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print (NR ? a[int((NR + 1) / 2)] : 0) }'; }
notary_PUBLISH=() notary_LIST=() notary_ADDP=() hallmark_PUBLISH=() hallmark_LIST=() hallmark_ADDP=()
NOTARY_URL="https://127.0.0.1:$NOTARY_PORT"
HM_URL="https://127.0.0.1:$HM_PORT"
for ((round = 1; round <= ROUNDS; round++)); do
  step "client round trips, round $round of $ROUNDS (both servers, alternating order)"
  if ((round % 2)); then
    client_round notary "$NOTARY_URL" "$round"
    client_round hallmark "$HM_URL" "$round"
  else
    client_round hallmark "$HM_URL" "$round"
    client_round notary "$NOTARY_URL" "$round"
  fi
  log "round $round: publish hallmark ${hallmark_PUBLISH[-1]} / notary ${notary_PUBLISH[-1]} ms; add -p x$N_ADD_P hallmark ${hallmark_ADDP[-1]:-0} / notary ${notary_ADDP[-1]:-0} ms"
  step_done
done
for n in notary hallmark; do
  eval "${n}_PUBLISH_MS=\$(median \"\${${n}_PUBLISH[@]}\")"
  eval "${n}_LIST_MS=\$(median \"\${${n}_LIST[@]}\")"
  eval "${n}_ADDP_MS=\$(median \"\${${n}_ADDP[@]:-0}\")"
done
step "reads: GET timestamp.json, $CONNECTIONS connections, $DURATION each"
reads notary "$NOTARY_URL"
reads hallmark "$HM_URL"
step_done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }'; }
echo
printf '  %-44s %14s %18s %8s\n' "median of $ROUNDS rounds (notary CLI, TLS)" "hallmark" "notary-server" "ratio"
printf '  %-44s %11s ms %15s ms %7sx\n' "notary publish of $N_TARGETS targets" "$hallmark_PUBLISH_MS" "$notary_PUBLISH_MS" "$(ratio "$notary_PUBLISH_MS" "$hallmark_PUBLISH_MS")"
printf '  %-44s %11s ms %15s ms %7sx\n' "notary list ($N_TARGETS targets)" "$hallmark_LIST_MS" "$notary_LIST_MS" "$(ratio "$notary_LIST_MS" "$hallmark_LIST_MS")"
[ "$N_ADD_P" -gt 0 ] && printf '  %-44s %11s ms %15s ms %7sx\n' "$N_ADD_P x notary add -p" "$hallmark_ADDP_MS" "$notary_ADDP_MS" "$(ratio "$notary_ADDP_MS" "$hallmark_ADDP_MS")"
printf '  %-44s %9s r/s %14s r/s %7sx\n' "GET timestamp.json, $CONNECTIONS connections" "$hallmark_RPS" "$notary_RPS" "$(ratio "$hallmark_RPS" "$notary_RPS")"
printf '  %-44s %14s %18s\n' "  latency p50 / p99" "$hallmark_P50/$hallmark_P99" "$notary_P50/$notary_P99"
echo
mkdir -p "$HALLMARK_ROOT/target/bench"
jq -n --argjson rounds "$ROUNDS" --argjson n "$N_TARGETS" --argjson m "$N_ADD_P" --arg c "$CONNECTIONS" --arg d "$DURATION" \
  --argjson hp "$hallmark_PUBLISH_MS" --argjson np "$notary_PUBLISH_MS" \
  --argjson hl "$hallmark_LIST_MS" --argjson nl "$notary_LIST_MS" \
  --argjson ha "$hallmark_ADDP_MS" --argjson na "$notary_ADDP_MS" \
  --argjson hr "$hallmark_RPS" --argjson nr "$notary_RPS" \
  '{rounds: $rounds, targets: $n, add_p: $m, connections: ($c | tonumber), duration: $d,
    hallmark: {publish_ms: $hp, list_ms: $hl, add_p_ms: $ha, timestamp_rps: $hr},
    notary_server: {publish_ms: $np, list_ms: $nl, add_p_ms: $na, timestamp_rps: $nr},
    read_ratio: (if $nr > 0 then $hr / $nr else null end)}' >"$HALLMARK_ROOT/target/bench/trust.json"
log "results: target/bench/trust.json; total $(total_elapsed)"

# Client latency (notary CLI vs hallmark trust resolve/inspect): a separate section.
source "$HALLMARK_ROOT/scripts/lib/bench-trust-client.sh"
