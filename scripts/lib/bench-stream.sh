#!/usr/bin/env bash
# ./scripts/bench stream [MIB] — blobs of any size in constant memory, sourced by scripts/bench.
#
# One image with one MIB MiB layer (default 1024, also HALLMARK_BENCH_STREAM_MIB) of random
# bytes in a local docker-registry, then, each under /usr/bin/time (peak RSS and wall time):
#   hallmark copy registry -> OCI layout      vs  skopeo copy docker:// -> oci:
#   hallmark copy registry -> registry        vs  skopeo copy docker:// -> docker:// (a second
#                                                 registry: within one, the blob is mounted)
#   hallmark pull --policy (accept) -> docker-archive:FILE
# Target: hallmark's peak RSS stays flat (well under 64 MiB) whatever the layer size.
# Env: HALLMARK_BIN, HALLMARK_BENCH_KEEP=1. Results also in target/bench/stream.json.

MIB="${2:-${HALLMARK_BENCH_STREAM_MIB:-1024}}"
[[ "$MIB" =~ ^[1-9][0-9]*$ ]] || die "MIB must be a positive integer"
CMD_TIMEOUT=1800

step "setup: Debian packages, skopeo 1.18, hallmark (release build)"
apt_ensure docker-registry jq curl time
install_skopeo
SKOPEO="$HALLMARK_SKOPEO"
HM="$(hallmark_release_bin)"
step_done

WORK="$(mktemp -d -t hallmark-bench-stream.XXXXXX)"
R2_PID=""
cleanup() {
  local rc=$?
  registry_stop
  if [ -n "$R2_PID" ]; then REGISTRY_PID="$R2_PID" registry_stop; fi
  if [ "${HALLMARK_BENCH_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT

step "two registries and one image with a $MIB MiB layer"
# A second registry for registry-to-registry copies: within one registry the blob would be
# mounted, not moved.
registry_start "$WORK/registry2" error
R2="$REGISTRY_ADDR"
R2_PID="$REGISTRY_PID"
registry_start "$WORK/registry" error
R="$REGISTRY_ADDR"
head -c "$((MIB * 1024 * 1024))" /dev/urandom >"$WORK/layer"
LAYER_DIGEST="sha256:$(sha256sum "$WORK/layer" | cut -d' ' -f1)"
LAYER_SIZE="$(stat -c %s "$WORK/layer")"
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["%s"]}}' "$LAYER_DIGEST" >"$WORK/config"
CONFIG_DIGEST="sha256:$(sha256sum "$WORK/config" | cut -d' ' -f1)"
CONFIG_SIZE="$(stat -c %s "$WORK/config")"
upload() { # upload FILE DIGEST
  local loc
  loc="$(curl -sf -X POST -D - -o /dev/null "http://$R/v2/bench/big/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')"
  [ -n "$loc" ] || die "no upload location"
  case "$loc" in http*) ;; *) loc="http://$R$loc" ;; esac
  curl -sf -X PUT -H 'Content-Type: application/octet-stream' -T "$1" "$loc&digest=$2" -o /dev/null ||
    die "uploading $1 failed"
}
upload "$WORK/layer" "$LAYER_DIGEST"
upload "$WORK/config" "$CONFIG_DIGEST"
cat >"$WORK/manifest" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$CONFIG_DIGEST","size":$CONFIG_SIZE},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"$LAYER_DIGEST","size":$LAYER_SIZE}]}
JSON
curl -sf -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$WORK/manifest" \
  "http://$R/v2/bench/big/manifests/v1" -o /dev/null || die "pushing the manifest failed"
rm -f "$WORK/layer"
cat >"$WORK/accept.yaml" <<YAML
apiVersion: hallmark/v1
kind: Policy
default: allow
rules: []
YAML
jq -n '{default: [{type: "insecureAcceptAnything"}]}' >"$WORK/containers-policy.json"
step_done

# measure NAME CMD... : peak RSS (KiB) and wall seconds of one run, appended to $WORK/results
measure() {
  local name="$1"
  shift
  run_bounded "$CMD_TIMEOUT" /usr/bin/time -f '%M %e' -o "$WORK/time.out" "$@" >"$WORK/cmd.log" 2>&1 ||
    die "$name failed: $(tail -3 "$WORK/cmd.log")"
  read -r rss wall <"$WORK/time.out"
  log "$name: peak RSS $((rss / 1024)) MiB, $wall s"
  printf '%s|%s|%s\n' "$name" "$rss" "$wall" >>"$WORK/results"
}

step "copy and pull the $MIB MiB image (each under /usr/bin/time)"
: >"$WORK/results"
measure "hallmark copy -> oci:" "$HM" copy "$R/bench/big:v1" "oci:$WORK/hm-layout:v1"
measure "skopeo copy -> oci:" "$SKOPEO" copy -q --policy "$WORK/containers-policy.json" --src-tls-verify=false \
  "docker://$R/bench/big:v1" "oci:$WORK/sk-layout:v1"
measure "hallmark copy -> registry" "$HM" copy "$R/bench/big:v1" "$R2/bench/hm-copy:v1"
measure "skopeo copy -> registry" "$SKOPEO" copy -q --policy "$WORK/containers-policy.json" --src-tls-verify=false \
  --dest-tls-verify=false "docker://$R/bench/big:v1" "docker://$R2/bench/sk-copy:v1"
measure "hallmark pull -> docker-archive:" "$HM" pull --policy "$WORK/accept.yaml" --to "docker-archive:$WORK/big.tar" "$R/bench/big:v1"
step_done

echo
echo "stream benchmark: $(uname -m), $(nproc) CPUs, layer $MIB MiB, $("$HM" --version | head -1), $("$SKOPEO" --version)"
echo
{
  echo "task|peak RSS|wall"
  while IFS='|' read -r name rss wall; do
    echo "$name|$((rss / 1024)) MiB|$wall s"
  done <"$WORK/results"
} | column -t -s '|' -o '  |  '
mkdir -p "$HALLMARK_ROOT/target/bench"
jq -R -s --argjson mib "$MIB" 'split("\n") | map(select(length > 0) | split("|") |
  {task: .[0], peak_rss_kib: (.[1] | tonumber), wall_s: (.[2] | tonumber)}) | {layer_mib: $mib, results: .}' \
  <"$WORK/results" >"$HALLMARK_ROOT/target/bench/stream.json"
