#!/usr/bin/env bash
# ./scripts/bench proxy — `hallmark proxy` side by side with the registry it stands in front of
# (docker-registry 2.8 on 127.0.0.1), sourced by scripts/bench. One run, printed side by side:
#
#   1. manifest GETs by tag, 64 connections (wrk, 2 threads), warm decision cache: the proxy
#      vs the registry directly: req/s and p50/p99 (targets: >= 90% of direct, p99 added <= 2 ms);
#   2. a 256 MiB layer (GET blob, curl to /dev/null, median of 3): proxy vs direct MiB/s
#      (target >= 90%) and the proxy's peak RSS;
#   3. cold decisions: the first pull of a tag (a webhook-style decision with nothing cached:
#      --cache-ttl 0s), 50 sequential GETs: p50/p99.
# Env: HALLMARK_BIN, HALLMARK_BENCH_DURATION (wrk, 10s), HALLMARK_BENCH_KEEP=1.
# Results also in target/bench/proxy.json.

DURATION="${HALLMARK_BENCH_DURATION:-10s}"

step "setup: Debian packages, hallmark (release build)"
apt_ensure docker-registry jq curl wrk
HM="$(hallmark_release_bin)"
"$HM" proxy --help >/dev/null 2>&1 || die "$HM has no 'proxy' command"
step_done

bench_workdir proxy

step "registry, key, a signed image, a 256 MiB blob, policy"
registry_start "$WORK/registry" error
R="$REGISTRY_ADDR"
export HALLMARK_PASSWORD="bench-pass"
run_bounded 120 "$HM" key generate --output-prefix "$WORK/key" >/dev/null 2>&1 || die "key generate failed"
run_bounded 120 "$HM" debug push-sample --count 2 --repo-prefix "$R/bench/app" --tag v1 >/dev/null 2>&1 ||
  die "push-sample failed"
run_bounded 120 "$HM" sign --key "$WORK/key.key" "$R/bench/app0:v1" >/dev/null 2>&1 || die "signing failed"
head -c $((256 * 1024 * 1024)) /dev/urandom >"$WORK/blob"
BLOB="sha256:$(sha256sum "$WORK/blob" | cut -d' ' -f1)"
LOCATION="$(curl -sf -X POST -D - -o /dev/null "http://$R/v2/bench/blob/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')"
case "$LOCATION" in http*) ;; *) LOCATION="http://$R$LOCATION" ;; esac
SEP='?'; case "$LOCATION" in *\?*) SEP='&' ;; esac
curl -sf -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$WORK/blob" \
  "$LOCATION${SEP}digest=$BLOB" >/dev/null || die "blob upload failed"
rm -f "$WORK/blob"
cat >"$WORK/policy.yaml" <<YAML
apiVersion: hallmark/v1
kind: Policy
default: allow
rules:
  - name: signed
    images: ["$R/bench/app*"]
    require:
      - cosign: {keys: [$WORK/key.pub]}
YAML
step_done

start_proxy() { # start_proxy NAME EXTRA... : PROXY_PORT, PROXY_PID
  local name="$1"
  shift
  PROXY_PORT="$(free_port)"
  "$HM" proxy --addr "127.0.0.1:$PROXY_PORT" --upstream "http://$R" --policy "$WORK/policy.yaml" "$@" \
    >"$WORK/$name.log" 2>&1 &
  PROXY_PID=$!
  PIDS+=("$PROXY_PID")
  wait_http "http://127.0.0.1:$PROXY_PORT/v2/" 30 || { tail -5 "$WORK/$name.log" >&2; die "the proxy did not start"; }
}

ACCEPT='application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json'
start_proxy warm
P="127.0.0.1:$PROXY_PORT"
code="$(curl -s -o /dev/null -w '%{http_code}' -H "Accept: $ACCEPT" "http://$P/v2/bench/app1/manifests/v1")"
[ "$code" = 403 ] || die "the proxy served an unsigned image (HTTP $code)"
code="$(curl -s -o /dev/null -w '%{http_code}' -H "Accept: $ACCEPT" "http://$P/v2/bench/app0/manifests/v1")"
[ "$code" = 200 ] || die "the proxy refused the signed image (HTTP $code)"

wrk_run() { # wrk_run NAME URL : WRK_RPS WRK_P50 WRK_P99 (ms)
  cat >"$WORK/accept.lua" <<LUA
wrk.headers["Accept"] = "$ACCEPT"
LUA
  run_bounded 120 wrk -t2 -c64 -d"$DURATION" --latency -s "$WORK/accept.lua" "$2" >"$WORK/wrk-$1.log" 2>&1 ||
    { cat "$WORK/wrk-$1.log" >&2; die "wrk failed"; }
  grep -q "Non-2xx" "$WORK/wrk-$1.log" && die "wrk $1 saw non-2xx answers: $(cat "$WORK/wrk-$1.log")"
  WRK_RPS="$(sed -n 's/^Requests\/sec: *//p' "$WORK/wrk-$1.log")"
  to_ms() { awk '{ v = $1; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } printf "%.3f", v }'; }
  WRK_P50="$(sed -n 's/^ *50% *//p' "$WORK/wrk-$1.log" | to_ms)"
  WRK_P99="$(sed -n 's/^ *99% *//p' "$WORK/wrk-$1.log" | to_ms)"
}

step "manifest GETs by tag, 64 connections, $DURATION: direct, then through the proxy (warm)"
wrk_run direct "http://$R/v2/bench/app0/manifests/v1"
D_RPS="$WRK_RPS"; D_P50="$WRK_P50"; D_P99="$WRK_P99"
wrk_run proxy "http://$P/v2/bench/app0/manifests/v1"
P_RPS="$WRK_RPS"; P_P50="$WRK_P50"; P_P99="$WRK_P99"
step_done

step "a 256 MiB blob: direct and through the proxy (median of 3)"
blob_secs() { curl -sf -o /dev/null -w '%{time_total}' "$1"; }
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
d=(); p=()
for _ in 1 2 3; do
  d+=("$(blob_secs "http://$R/v2/bench/blob/blobs/$BLOB")")
  p+=("$(blob_secs "http://$P/v2/bench/blob/blobs/$BLOB")")
done
D_BLOB="$(median "${d[@]}")"; P_BLOB="$(median "${p[@]}")"
PEAK_KIB="$(awk '/^VmHWM:/ { print $2 }' "/proc/$PROXY_PID/status")"
step_done

step "cold decisions: nothing cached, 50 first pulls"
start_proxy cold --cache-ttl 0s --deny-ttl 0s --tag-ttl 0s
C="127.0.0.1:$PROXY_PORT"
cold=()
for _ in $(seq 50); do
  cold+=("$(curl -sf -o /dev/null -w '%{time_total}' -H "Accept: $ACCEPT" "http://$C/v2/bench/app0/manifests/v1")") ||
    die "cold pull failed"
done
COLD="$(printf '%s\n' "${cold[@]}" | sort -n | awk '{ a[NR] = $1 * 1000 } END { printf "%.3f %.3f", a[int(NR * 0.5)], a[int(NR * 0.99)] }')"
read -r COLD_P50 COLD_P99 <<<"$COLD"
VERIFICATIONS="$(curl -sf "http://$C/metrics" | sed -n 's/^hallmark_proxy_verifications_total //p')"
[ "${VERIFICATIONS:-0}" -ge 50 ] || die "the cold proxy verified $VERIFICATIONS times for 50 pulls: something was cached"
step_done

MIB=256
echo
printf '  %-52s %14s %14s %8s\n' "" "direct" "hallmark proxy" "ratio"
printf '  %-52s %14.0f %14.0f %7.0f%%\n' "manifest GET by tag, 64 connections (req/s)" "$D_RPS" "$P_RPS" "$(awk -v a="$P_RPS" -v b="$D_RPS" 'BEGIN { print 100 * a / b }')"
printf '  %-52s %14s %14s\n' "  p50 / p99 (ms)" "$D_P50 / $D_P99" "$P_P50 / $P_P99"
printf '  %-52s %14.0f %14.0f %7.0f%%\n' "256 MiB blob (MiB/s)" "$(awk -v s="$D_BLOB" -v m=$MIB 'BEGIN { print m / s }')" "$(awk -v s="$P_BLOB" -v m=$MIB 'BEGIN { print m / s }')" "$(awk -v a="$D_BLOB" -v b="$P_BLOB" 'BEGIN { print 100 * a / b }')"
printf '  %-52s %14s %14s\n' "proxy peak RSS after the blobs" "" "$((PEAK_KIB / 1024)) MiB"
printf '  %-52s %14s %14s\n' "cold decision, first pull of a tag, p50 / p99 (ms)" "" "$COLD_P50 / $COLD_P99"
echo

mkdir -p "$HALLMARK_ROOT/target/bench"
jq -n --arg drps "$D_RPS" --arg prps "$P_RPS" --arg dp50 "$D_P50" --arg dp99 "$D_P99" --arg pp50 "$P_P50" \
  --arg pp99 "$P_P99" --arg db "$D_BLOB" --arg pb "$P_BLOB" --arg peak "$PEAK_KIB" --arg c50 "$COLD_P50" --arg c99 "$COLD_P99" \
  '{manifest_get_64: {direct: {rps: ($drps|tonumber), p50_ms: ($dp50|tonumber), p99_ms: ($dp99|tonumber)},
     proxy: {rps: ($prps|tonumber), p50_ms: ($pp50|tonumber), p99_ms: ($pp99|tonumber)}},
    blob_256mib_seconds: {direct: ($db|tonumber), proxy: ($pb|tonumber)}, proxy_peak_rss_kib: ($peak|tonumber),
    cold_first_pull_ms: {p50: ($c50|tonumber), p99: ($c99|tonumber)}}' >"$HALLMARK_ROOT/target/bench/proxy.json"
log "results in target/bench/proxy.json ($(total_elapsed))"
