#!/usr/bin/env bash
# ./scripts/bench admission — the admission webhook, sourced by scripts/bench. One run, printed
# side by side:
#
#   1. cached decisions: an AdmissionReview for a Pod with 3 images (signed, in the local
#      docker-registry) sent to `hallmark admission serve` /validate by 64 clients, each on its
#      own TLS connection, for DURATION (default 10s): req/s, p50/p99 latency (load generator
#      `hallmark debug admission-load` on the same 2 cores). Targets: >= 10,000 req/s, p99 <= 2 ms.
#      Then 8 clients, and the webhook's CPU time per request.
#   2. cold decisions: the same request to a webhook that caches nothing (--cache-ttl 0s
#      --deny-ttl 0s --tag-ttl 0s), one client: every request resolves 3 tags and verifies 3
#      images against the registry. p50/p99 (target p99 <= 50 ms).
#   3. the reference: the same images decided by `hallmark verify --policy` as one process per
#      image (hyperfine), what the cache buys.
# Env: HALLMARK_BIN, HALLMARK_BENCH_DURATION (10s), HALLMARK_BENCH_RUNS (hyperfine runs, 30),
# HALLMARK_BENCH_KEEP=1, HALLMARK_BENCH_PERF=FILE (perf record of the webhook during the cached
# run). Results also in target/bench/admission.json.

DURATION="${HALLMARK_BENCH_DURATION:-10s}"
RUNS="${HALLMARK_BENCH_RUNS:-30}"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "HALLMARK_BENCH_RUNS must be a positive integer"

step "setup: Debian packages, hallmark (release build)"
apt_ensure docker-registry jq curl openssl hyperfine
HM="$(hallmark_release_bin)"
"$HM" debug admission-load --help >/dev/null 2>&1 || die "$HM has no 'debug admission-load' command"
step_done

bench_workdir admission

step "registry, key, 3 signed images, policy, PKI"
registry_start "$WORK/registry" error
R="$REGISTRY_ADDR"
export HALLMARK_PASSWORD="bench-pass"
run_bounded 120 "$HM" key generate --output-prefix "$WORK/key" >/dev/null 2>&1 || die "key generate failed"
run_bounded 120 "$HM" debug push-sample --count 3 --repo-prefix "$R/bench/app" --tag v1 >/dev/null 2>&1 ||
  die "push-sample failed"
IMAGES=("$R/bench/app0:v1" "$R/bench/app1:v1" "$R/bench/app2:v1")
run_bounded 120 "$HM" sign --key "$WORK/key.key" "${IMAGES[@]}" >/dev/null 2>&1 || die "signing failed"
cat >"$WORK/policy.yaml" <<YAML
apiVersion: hallmark/v1
kind: Policy
default: deny
rules:
  - name: signed
    images: ["$R/bench/**"]
    require:
      - cosign: {keys: [$WORK/key.pub]}
YAML
make_test_pki "$WORK/pki" server
CA="$WORK/pki/ca.crt"
jq -n --arg a "${IMAGES[0]}" --arg b "${IMAGES[1]}" --arg c "${IMAGES[2]}" '{
  apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview",
  request: {
    uid: "705ab4f5-6393-11e8-b7cc-42010a800002",
    kind: {group: "", version: "v1", kind: "Pod"},
    resource: {group: "", version: "v1", resource: "pods"},
    namespace: "default", operation: "CREATE", dryRun: false,
    userInfo: {username: "system:serviceaccount:kube-system:replicaset-controller"},
    object: {apiVersion: "v1", kind: "Pod",
      metadata: {generateName: "web-7d4b9c-", namespace: "default", labels: {app: "web"}},
      spec: {containers: [
        {name: "app", image: $a, imagePullPolicy: "IfNotPresent"},
        {name: "proxy", image: $b, imagePullPolicy: "IfNotPresent"},
        {name: "metrics", image: $c, imagePullPolicy: "IfNotPresent"}],
        restartPolicy: "Always", dnsPolicy: "ClusterFirst"}}}}' >"$WORK/review.json"
step_done

# A webhook that admits everything would win: an unsigned image must be denied.
run_bounded 120 "$HM" debug push-sample --count 1 --repo-prefix "$R/bench/unsigned" --tag v1 >/dev/null 2>&1
jq --arg u "$R/bench/unsigned0:v1" '.request.object.spec.containers[2].image = $u' "$WORK/review.json" >"$WORK/unsigned.json"

serve_webhook() { # serve_webhook NAME EXTRA... : starts a webhook on WEBHOOK_PORT (pid WEBHOOK_PID)
  local name="$1"
  shift
  WEBHOOK_PORT="$(free_port)"
  "$HM" admission serve --addr "127.0.0.1:$WEBHOOK_PORT" --policy "$WORK/policy.yaml" \
    --tls-cert "$WORK/pki/server.crt" --tls-key "$WORK/pki/server.key" "$@" >"$WORK/$name.log" 2>&1 &
  WEBHOOK_PID=$!
  PIDS+=("$WEBHOOK_PID")
}

step "cached decisions: 64 clients over TLS for $DURATION"
serve_webhook cached
PORT="$WEBHOOK_PORT"
wait_tls "https://127.0.0.1:$PORT/readyz" || { tail -5 "$WORK/cached.log" >&2; die "the webhook did not start"; }
run_bounded 120 "$HM" debug admission-load --url "https://127.0.0.1:$PORT/validate" --cacert "$CA" \
  --body "$WORK/unsigned.json" --clients 1 --duration 1s --expect deny >"$WORK/unsigned.out" ||
  die "admission-load failed"
[ "$(jq .wrong "$WORK/unsigned.out")" = 0 ] || die "the webhook admitted an unsigned image"
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
T0="$(cpu_ticks "$WEBHOOK_PID")"
if [ -n "${HALLMARK_BENCH_PERF:-}" ]; then
  perf record -F 999 -g -p "$WEBHOOK_PID" -o "$HALLMARK_BENCH_PERF" -- sleep 8 >/dev/null 2>&1 &
  PERF_PID=$!
fi
run_bounded 300 "$HM" debug admission-load --url "https://127.0.0.1:$PORT/validate" --cacert "$CA" \
  --body "$WORK/review.json" --clients 64 --duration "$DURATION" >"$WORK/cached.out" || die "admission-load failed"
T1="$(cpu_ticks "$WEBHOOK_PID")"
# Latency with fewer requests in flight: at 64 connections on 2 cores it is mostly queueing
# (p50 ~ 64 / throughput).
run_bounded 300 "$HM" debug admission-load --url "https://127.0.0.1:$PORT/validate" --cacert "$CA" \
  --body "$WORK/review.json" --clients 8 --duration "$DURATION" >"$WORK/cached8.out" || die "admission-load failed"
# Webhook CPU per request, microseconds (clock ticks of /proc/PID/stat).
CPU_US="$(awk -v t="$((T1 - T0))" -v hz="$(getconf CLK_TCK)" -v n="$(jq .requests "$WORK/cached.out")" 'BEGIN { printf "%.1f", (n > 0 ? t / hz * 1e6 / n : 0) }')"
[ -n "${PERF_PID:-}" ] && wait "$PERF_PID"
CACHED_RSS_KIB="$(ps -o rss= -p "$WEBHOOK_PID" | tr -d ' ')"
curl -sf --cacert "$CA" "https://127.0.0.1:$PORT/metrics" >"$WORK/cached.metrics"
log "$(cat "$WORK/cached.out")"
[ "$(jq '.errors + .wrong' "$WORK/cached.out")" = 0 ] || die "errors or wrong answers under load: $(cat "$WORK/cached.out")"
step_done

step "cold decisions: nothing cached, 1 client for $DURATION"
serve_webhook cold --cache-ttl 0s --deny-ttl 0s --tag-ttl 0s
PORT_COLD="$WEBHOOK_PORT"
wait_tls "https://127.0.0.1:$PORT_COLD/readyz" || { tail -5 "$WORK/cold.log" >&2; die "the cold webhook did not start"; }
run_bounded 300 "$HM" debug admission-load --url "https://127.0.0.1:$PORT_COLD/validate" --cacert "$CA" \
  --body "$WORK/review.json" --clients 1 --duration "$DURATION" >"$WORK/cold.out" || die "admission-load failed"
log "$(cat "$WORK/cold.out")"
curl -sf --cacert "$CA" "https://127.0.0.1:$PORT_COLD/metrics" >"$WORK/cold.metrics"
COLD_REQUESTS="$(jq .requests "$WORK/cold.out")"
COLD_VERIFICATIONS="$(sed -n 's/^hallmark_admission_verifications_total //p' "$WORK/cold.metrics")"
[ "${COLD_VERIFICATIONS:-0}" -ge "$((COLD_REQUESTS * 3))" ] ||
  die "the cold webhook verified $COLD_VERIFICATIONS images for $COLD_REQUESTS requests: something was cached"
step_done

step "reference: hallmark verify --policy, one process per image ($RUNS runs each)"
run_bounded 600 hyperfine -N --warmup 2 --runs "$RUNS" --export-json "$WORK/process.json" \
  -n "verify --policy ${IMAGES[0]##*/}" "$HM verify --policy $WORK/policy.yaml ${IMAGES[0]}" \
  -n "verify --policy ${IMAGES[1]##*/}" "$HM verify --policy $WORK/policy.yaml ${IMAGES[1]}" \
  -n "verify --policy ${IMAGES[2]##*/}" "$HM verify --policy $WORK/policy.yaml ${IMAGES[2]}" >&2 ||
  die "hyperfine failed"
PROCESS="$(jq '[.results[].times[]] | sort | {n: length,
  p50_ms: (.[(length * 0.5 | floor)] * 1000), p99_ms: (.[((length * 0.99 | ceil) - 1)] * 1000)}' "$WORK/process.json")"
step_done

C="$(cat "$WORK/cached.out")"
C8="$(cat "$WORK/cached8.out")"
D="$(cat "$WORK/cold.out")"
echo
printf '  %-58s %12s %10s %10s\n' "admission decisions (Pod with 3 images)" "req/s" "p50 ms" "p99 ms"
printf '  %-58s %12.0f %10.3f %10.3f\n' "hallmark webhook, cached, 64 TLS connections" \
  "$(jq .rps <<<"$C")" "$(jq .p50_ms <<<"$C")" "$(jq .p99_ms <<<"$C")"
printf '  %-58s %12.0f %10.3f %10.3f\n' "hallmark webhook, cached, 8 TLS connections" \
  "$(jq .rps <<<"$C8")" "$(jq .p50_ms <<<"$C8")" "$(jq .p99_ms <<<"$C8")"
printf '  %-58s %12.1f %10.3f %10.3f\n' "hallmark webhook, cold (3 tags + 3 verifications), 1 client" \
  "$(jq .rps <<<"$D")" "$(jq .p50_ms <<<"$D")" "$(jq .p99_ms <<<"$D")"
printf '  %-58s %12s %10.3f %10.3f\n' "hallmark verify --policy, one process per image" \
  "-" "$(jq .p50_ms <<<"$PROCESS")" "$(jq .p99_ms <<<"$PROCESS")"
printf '  webhook RSS after the cached run: %s MiB; webhook CPU per cached request: %s us\n' "$((CACHED_RSS_KIB / 1024))" "$CPU_US"
echo

mkdir -p "$HALLMARK_ROOT/target/bench"
jq -n --argjson cached "$C" --argjson cached8 "$C8" --argjson cold "$D" --argjson process "$PROCESS" --arg rss "$CACHED_RSS_KIB" --arg cpu "$CPU_US" \
  --arg duration "$DURATION" '{duration: $duration, cached_64_clients: $cached, cached_8_clients: $cached8, cold_1_client: $cold,
  verify_process_per_image: $process, webhook_rss_kib: ($rss | tonumber), webhook_cpu_us_per_cached_request: ($cpu | tonumber)}' >"$HALLMARK_ROOT/target/bench/admission.json"
log "results in target/bench/admission.json ($(total_elapsed))"
