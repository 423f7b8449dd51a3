#!/usr/bin/env bash
# ./scripts/bench keys [N] — signing with keys that never sit on disk, sourced by scripts/bench.
# Signs N images (default 100, also HALLMARK_BENCH_N) three times in one run, each set with one
# `hallmark sign` call: with a file key (encrypted cosign key), with an EC P-256 key on a SoftHSM2
# token (pkcs11:, key made by `hallmark key generate --kms`), and with an AWS KMS key served by
# moto 5.2.5 on loopback (awskms://, made by `key generate --kms`). Prints images/s for each and
# the ratio to the file key; every set is then verified with the exported public key.
# Env: HALLMARK_BIN, HALLMARK_BENCH_KEEP=1, HALLMARK_MOTO_SERVER (else installed into the test
# cache). Results are also written as JSON to target/bench/keys.json.

source "$HALLMARK_ROOT/scripts/lib/install-moto.sh"
N="${2:-${HALLMARK_BENCH_N:-100}}"
[[ "$N" =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer"
CMD_TIMEOUT=1800

step "setup: Debian packages, moto, hallmark (release build)"
apt_ensure docker-registry jq curl softhsm2 opensc
command -v python3 >/dev/null || apt_ensure python3
if [ -z "${HALLMARK_MOTO_SERVER:-}" ]; then install_moto; fi
HM="$(hallmark_release_bin)"
SOFTHSM_MODULE="${HALLMARK_SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}"
[ -f "$SOFTHSM_MODULE" ] || die "SoftHSM2 module not found at $SOFTHSM_MODULE"
step_done

WORK="$(mktemp -d -t hallmark-bench-keys.XXXXXX)"
MOTO_PID=""
cleanup() {
  local rc=$?
  registry_stop
  if [ -n "$MOTO_PID" ]; then
    kill -TERM "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
  fi
  if [ "${HALLMARK_BENCH_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT

step "registry, SoftHSM2 token, moto; keys; $N images for each key"
registry_start "$WORK/registry" error
R="$REGISTRY_ADDR"
export HALLMARK_PASSWORD="bench-pass"
run_bounded 120 "$HM" key generate --output-prefix "$WORK/file" >/dev/null 2>&1 || die "key generate failed"

export SOFTHSM2_CONF="$WORK/softhsm2.conf"
mkdir -p "$WORK/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$WORK/tokens" >"$SOFTHSM2_CONF"
export HALLMARK_PKCS11_PIN="bench-pin-1234"
run_bounded 60 softhsm2-util --init-token --free --label bench --pin "$HALLMARK_PKCS11_PIN" --so-pin bench-so-pin >/dev/null ||
  die "softhsm2-util --init-token failed"
HSM_REF="pkcs11:token=bench;object=signer?module-path=$SOFTHSM_MODULE"
run_bounded 60 "$HM" key generate --kms "$HSM_REF" --output-prefix "$WORK/hsm" >/dev/null 2>&1 || die "key generate --kms pkcs11 failed"

MOTO_PORT="$(free_port)"
"$HALLMARK_MOTO_SERVER" -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 </dev/null &
MOTO_PID=$!
wait_http "http://127.0.0.1:$MOTO_PORT/moto-api/" 60 || die "moto did not start: $(tail -3 "$WORK/moto.log")"
export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
  AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
KMS_REF="awskms:///alias/bench"
run_bounded 60 "$HM" key generate --kms "$KMS_REF" --output-prefix "$WORK/kms" >/dev/null 2>&1 || die "key generate --kms awskms failed"
for set in file hsm kms; do
  run_bounded "$CMD_TIMEOUT" "$HM" debug push-sample --count "$N" --repo-prefix "$R/bench/$set" --tag v1 >/dev/null ||
    die "push-sample $set failed"
done
log "pushed 3 x $N images; moto on 127.0.0.1:$MOTO_PORT (PID $MOTO_PID)"
step_done

declare -A REF=([file]="$WORK/file.key" [hsm]="$HSM_REF" [kms]="$KMS_REF")
declare -A MS
step "sign $N images with each key (one hallmark call each)"
for set in file hsm kms; do
  mapfile -t REFS < <(for ((i = 0; i < N; i++)); do printf '%s/bench/%s%d:v1\n' "$R" "$set" "$i"; done)
  t0="$(now_ms)"
  run_bounded "$CMD_TIMEOUT" "$HM" sign --key "${REF[$set]}" "${REFS[@]}" >"$WORK/sign-$set.log" 2>&1 ||
    { tail -20 "$WORK/sign-$set.log" >&2; die "sign with $set key failed"; }
  MS[$set]=$(($(now_ms) - t0))
  run_bounded "$CMD_TIMEOUT" "$HM" verify --key "$WORK/$set.pub" "${REFS[@]}" >"$WORK/verify-$set.log" 2>&1 ||
    { tail -20 "$WORK/verify-$set.log" >&2; die "verify of the $set set with $WORK/$set.pub failed"; }
  log "$set: signed $N in $(fmt_ms "${MS[$set]}"), all verified with the exported public key"
done
step_done

rate() { awk -v n="$1" -v ms="$2" 'BEGIN { printf "%.1f", (ms > 0 ? n * 1000 / ms : 0) }'; }
echo
echo "(each time is one 'hallmark sign' process: opening the key included, i.e. the file key's scrypt"
echo " decryption, the token login, KMS DescribeKey + GetPublicKey; then $N signatures and registry writes)"
echo "keys benchmark: $(uname -m), $(nproc) CPUs, $("$HM" --version | head -1), SoftHSM2 $(dpkg-query -W -f='${Version}' softhsm2 2>/dev/null), moto $("$(dirname "$HALLMARK_MOTO_SERVER")/python" -c 'import moto; print(moto.__version__)' 2>/dev/null), registry on 127.0.0.1"
{
  echo "key|sign $N images|images/s|time vs file key"
  for set in file hsm kms; do
    echo "${REF[$set]/#$WORK\//}|$(fmt_ms "${MS[$set]}")|$(rate "$N" "${MS[$set]}")|$(awk -v a="${MS[$set]}" -v b="${MS[file]}" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }')"
  done
} | sed "s|module-path=[^&|]*|module-path=...|" | column -t -s '|' -o '  |  '
mkdir -p "$HALLMARK_ROOT/target/bench"
jq -n --argjson n "$N" --argjson file "${MS[file]}" --argjson hsm "${MS[hsm]}" --argjson kms "${MS[kms]}" \
  '{images: $n, ms: {file: $file, pkcs11_softhsm: $hsm, awskms_moto: $kms},
    images_per_s: {file: ($n * 1000 / $file), pkcs11_softhsm: ($n * 1000 / $hsm), awskms_moto: ($n * 1000 / $kms)}}' \
  >"$HALLMARK_ROOT/target/bench/keys.json"
log "results: target/bench/keys.json"
