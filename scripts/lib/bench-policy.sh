#!/usr/bin/env bash
# ./scripts/bench policy [BATCH] — the cost of deciding under a policy, sourced by scripts/bench.
#
#   1. verify BATCH images (default 1000, also HALLMARK_BENCH_BATCH) of one OCI layout with
#      `verify --key K` and with `verify --policy P` (a hallmark/v1 policy requiring K) in one
#      run: the policy's overhead per image (target: within 10%).
#   2. the whole-process decision for one registry image under a containers-policy.json:
#      `hallmark verify --policy policy.json` vs `skopeo copy --policy policy.json` of the same
#      image to dir:, vs the registry floor (one curl process fetching exactly the manifest,
#      the .sig manifest and the signature blob hallmark reads), hyperfine side by side
#      (target: hallmark within 1.2x of the floor).
# Env: HALLMARK_BIN, HALLMARK_BENCH_REPEAT (runs of each batch, median; default 3),
# HALLMARK_BENCH_RUNS (hyperfine runs, default 30), HALLMARK_BENCH_KEEP=1.
# Results are also written as JSON to target/bench/policy.json.

BATCH="${2:-${HALLMARK_BENCH_BATCH:-1000}}"
REPEAT="${HALLMARK_BENCH_REPEAT:-3}"
RUNS="${HALLMARK_BENCH_RUNS:-30}"
[[ "$BATCH" =~ ^[1-9][0-9]*$ && "$REPEAT" =~ ^[1-9][0-9]*$ && "$RUNS" =~ ^[1-9][0-9]*$ ]] ||
  die "BATCH, HALLMARK_BENCH_REPEAT and HALLMARK_BENCH_RUNS must be positive integers"
CMD_TIMEOUT=1800

step "setup: Debian packages, skopeo 1.18, hallmark (release build)"
apt_ensure docker-registry jq curl hyperfine
install_skopeo
SKOPEO="$HALLMARK_SKOPEO"
HM="$(hallmark_release_bin)"
step_done

WORK="$(mktemp -d -t hallmark-bench-policy.XXXXXX)"
cleanup() {
  local rc=$?
  registry_stop
  if [ "${HALLMARK_BENCH_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT

step "registry, key, $BATCH signed images in an OCI layout, one signed registry image"
registry_start "$WORK/registry" error
R="$REGISTRY_ADDR"
export HALLMARK_PASSWORD="bench-pass"
run_bounded 120 "$HM" key generate --output-prefix "$WORK/key" >/dev/null 2>&1 || die "key generate failed"
run_bounded 600 "$HM" debug push-sample --count "$BATCH" --repo-prefix "$R/bench/p" --tag v1 >"$WORK/push.log" 2>&1 ||
  die "push-sample failed: $(tail -3 "$WORK/push.log")"
REFS=()
for ((i = 0; i < BATCH; i++)); do REFS+=("$R/bench/p$i:v1"); done
run_bounded "$CMD_TIMEOUT" "$HM" sign --key "$WORK/key.key" "${REFS[@]}" >/dev/null 2>&1 || die "signing failed"
LAYOUT="$WORK/layout"
for ((i = 0; i < BATCH; i++)); do
  run_bounded 120 "$HM" copy "${REFS[$i]}" "oci:$LAYOUT:img$i" >/dev/null 2>&1 || die "copy ${REFS[$i]} failed"
done
LAYOUT_REFS=()
for ((i = 0; i < BATCH; i++)); do LAYOUT_REFS+=("oci:$LAYOUT:img$i"); done
cat >"$WORK/policy.yaml" <<YAML
apiVersion: hallmark/v1
kind: Policy
default: deny
rules:
  - name: signed
    images: ["**"]
    require:
      - cosign: {keys: [$WORK/key.pub]}
YAML
jq -n --arg scope "$R/bench" --arg key "$WORK/key.pub" '{
  default: [{type: "reject"}],
  transports: {
    docker: {($scope): [{type: "sigstoreSigned", keyPath: $key, signedIdentity: {type: "matchRepository"}}]},
    dir: {"": [{type: "insecureAcceptAnything"}]}
  }}' >"$WORK/containers-policy.json"
mkdir -p "$WORK/registries.d"
printf 'docker:\n  "%s":\n    use-sigstore-attachments: true\n' "$R" >"$WORK/registries.d/bench.yaml"
step_done

# A verifier that accepts anything would win: both commands must refuse an unsigned image.
run_bounded 120 "$HM" debug push-sample --count 1 --repo-prefix "$R/bench/unsigned" --tag v1 >/dev/null 2>&1
if run_bounded 60 "$HM" verify --policy "$WORK/policy.yaml" "$R/bench/unsigned0:v1" >/dev/null 2>&1; then
  die "hallmark verify --policy accepted an unsigned image"
fi
if run_bounded 60 "$HM" verify --policy "$WORK/containers-policy.json" "$R/bench/unsigned0:v1" >/dev/null 2>&1; then
  die "hallmark verify --policy (containers-policy.json) accepted an unsigned image"
fi

step "verify $BATCH images of one OCI layout: --key vs --policy (median of $REPEAT, alternating)"
key_runs=()
policy_runs=()
for ((r = 1; r <= REPEAT; r++)); do
  t0="$(now_ms)"
  run_bounded "$CMD_TIMEOUT" "$HM" verify --key "$WORK/key.pub" "${LAYOUT_REFS[@]}" >/dev/null 2>"$WORK/key.err" ||
    die "verify --key failed: $(tail -3 "$WORK/key.err")"
  key_runs+=($(($(now_ms) - t0)))
  t0="$(now_ms)"
  run_bounded "$CMD_TIMEOUT" "$HM" verify --policy "$WORK/policy.yaml" "${LAYOUT_REFS[@]}" >/dev/null 2>"$WORK/policy.err" ||
    die "verify --policy failed: $(tail -3 "$WORK/policy.err")"
  policy_runs+=($(($(now_ms) - t0)))
  log "run $r: --key $(fmt_ms "${key_runs[-1]}"), --policy $(fmt_ms "${policy_runs[-1]}")"
done
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
KEY_MS="$(median "${key_runs[@]}")"
POLICY_MS="$(median "${policy_runs[@]}")"
OVERHEAD_PCT="$(awk -v p="$POLICY_MS" -v k="$KEY_MS" 'BEGIN { printf "%.1f", (k > 0 ? 100 * (p - k) / k : 0) }')"
step_done

step "one image, whole process: hallmark verify --policy vs skopeo copy --policy vs curl floor ($RUNS runs each)"
IMG="bench/p0"
ACCEPT='application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json'
DIGEST="$(curl -s --head -H "Accept: $ACCEPT" "http://$R/v2/$IMG/manifests/v1" | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')"
[[ "$DIGEST" == sha256:* ]] || die "no digest for $IMG:v1"
PAYLOAD="$(curl -sf -H "Accept: $ACCEPT" "http://$R/v2/$IMG/manifests/sha256-${DIGEST#sha256:}.sig" | jq -r '.layers[0].digest')"
cat >"$WORK/floor.curl" <<CURL
url = "http://$R/v2/$IMG/manifests/v1"
output = "/dev/null"
url = "http://$R/v2/$IMG/manifests/sha256-${DIGEST#sha256:}.sig"
output = "/dev/null"
url = "http://$R/v2/$IMG/blobs/$PAYLOAD"
output = "/dev/null"
CURL
run_bounded 600 hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$WORK/one.json" \
  -n "hallmark verify --policy (containers-policy.json)" "$HM verify --policy $WORK/containers-policy.json $R/$IMG:v1" \
  -n "skopeo copy --policy to dir:" "$SKOPEO copy -q --remove-signatures --policy $WORK/containers-policy.json --registries.d $WORK/registries.d --src-tls-verify=false docker://$R/$IMG:v1 dir:$WORK/skopeo-out" \
  -n "curl floor (3 requests)" "curl -sf -H 'Accept: $ACCEPT' -K $WORK/floor.curl" >&2 ||
  die "hyperfine failed"
mean_ms() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .mean * 1000 | . * 10 | round / 10' "$WORK/one.json"; }
HM_ONE="$(mean_ms "hallmark verify --policy (containers-policy.json)")"
SK_ONE="$(mean_ms "skopeo copy --policy to dir:")"
FLOOR_ONE="$(mean_ms "curl floor (3 requests)")"
FLOOR_X="$(awk -v h="$HM_ONE" -v f="$FLOOR_ONE" 'BEGIN { printf "%.2f", (f > 0 ? h / f : 0) }')"
step_done

met_le() { awk -v v="$1" -v t="$2" 'BEGIN { print (v + 0 <= t + 0 ? "yes" : "NO") }'; }
echo
echo "policy benchmark: $(uname -m), $(nproc) CPUs, $("$HM" --version | head -1), $("$SKOPEO" --version)"
echo
{
  echo "task|hallmark|peer|result|target|met"
  echo "verify $BATCH (OCI layout)|--policy $(fmt_ms "$POLICY_MS")|--key $(fmt_ms "$KEY_MS")|overhead ${OVERHEAD_PCT}%|<= 10%|$(met_le "$OVERHEAD_PCT" 10)"
  echo "one image, containers-policy.json|${HM_ONE} ms|skopeo ${SK_ONE} ms, curl floor ${FLOOR_ONE} ms|${FLOOR_X}x floor|<= 1.2x|$(met_le "$FLOOR_X" 1.2)"
} | column -t -s '|' -o '  |  '
mkdir -p "$HALLMARK_ROOT/target/bench"
jq -n --argjson batch "$BATCH" --argjson key_ms "$KEY_MS" --argjson policy_ms "$POLICY_MS" \
  --argjson overhead_pct "$OVERHEAD_PCT" --argjson hallmark_ms "$HM_ONE" --argjson skopeo_ms "$SK_ONE" \
  --argjson floor_ms "$FLOOR_ONE" \
  '{layout: {batch: $batch, verify_key_ms: $key_ms, verify_policy_ms: $policy_ms, overhead_pct: $overhead_pct},
    one_image: {hallmark_ms: $hallmark_ms, skopeo_ms: $skopeo_ms, curl_floor_ms: $floor_ms}}' \
  >"$HALLMARK_ROOT/target/bench/policy.json"
log "results: target/bench/policy.json; total $(total_elapsed)"
