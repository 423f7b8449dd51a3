#!/usr/bin/env bash
# Client latency, sourced at the end of scripts/lib/bench-trust.sh (its servers still running):
# one command of each client against notary-server 0.7.0, side by side with hyperfine —
# `notary lookup GUN TAG` vs `hallmark trust resolve GUN:TAG`, `notary list GUN` vs
# `hallmark trust inspect GUN` — on the first round's repository (N targets), each client
# with its own trust directory and warm cache (notary's from the round, hallmark's from the
# warm-up runs). Needs NOTARY_URL, CA, WORK, HM from bench-trust.sh.
# Env: HALLMARK_BENCH_TRUST_CLIENT_RUNS (30; 0 skips). Results: target/bench/trust-client.json.

CLIENT_RUNS="${HALLMARK_BENCH_TRUST_CLIENT_RUNS:-30}"
if [[ "$CLIENT_RUNS" =~ ^[1-9][0-9]*$ ]]; then
  step "client latency against notary-server: notary lookup/list vs hallmark trust resolve/inspect ($CLIENT_RUNS runs)"
  apt_ensure hyperfine
  gun="bench.example/notary/app1"
  N=(notary -d "$WORK/trust-notary-1" -s "$NOTARY_URL" --tlscacert "$CA")
  H="$HM trust"
  T=(--server "$NOTARY_URL" --tls-ca "$CA" --trust-dir "$WORK/trust-hallmark-client")
  $H resolve "$gun:tag0" "${T[@]}" >/dev/null || die "hallmark trust resolve failed"
  run_bounded 600 hyperfine -N -w 5 -r "$CLIENT_RUNS" --export-json "$WORK/client.json" \
    "${N[*]} lookup $gun tag0" \
    "$H resolve $gun:tag0 ${T[*]}" \
    "${N[*]} list $gun" \
    "$H inspect $gun ${T[*]}" >"$WORK/client.txt" 2>&1 ||
    { cat "$WORK/client.txt" >&2; die "hyperfine failed"; }
  mean_ms() { jq -r ".results[$1].mean * 1000 | . * 10 | round / 10" "$WORK/client.json"; }
  echo
  printf '  %-44s %14s %18s\n' "mean of $CLIENT_RUNS runs (notary-server, TLS)" "hallmark" "notary CLI"
  printf '  %-44s %11s ms %15s ms\n' "resolve / lookup of one tag" "$(mean_ms 1)" "$(mean_ms 0)"
  printf '  %-44s %11s ms %15s ms\n' "inspect / list ($N_TARGETS targets)" "$(mean_ms 3)" "$(mean_ms 2)"
  echo
  jq '{runs: (.results[0].times | length),
       hallmark: {resolve_ms: (.results[1].mean * 1000), inspect_ms: (.results[3].mean * 1000)},
       notary_cli: {lookup_ms: (.results[0].mean * 1000), list_ms: (.results[2].mean * 1000)}}' \
    "$WORK/client.json" >"$HALLMARK_ROOT/target/bench/trust-client.json"
  step_done
fi
