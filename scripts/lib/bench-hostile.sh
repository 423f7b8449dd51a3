#!/usr/bin/env bash
# ./scripts/bench hostile — what hostile inputs cost, sourced by scripts/bench. Each case under
# /usr/bin/time (peak RSS, wall time, exit status), with the release build:
#   copy of 2,000 nested indexes (an OCI layout)      bounded depth: refused at once
#   copy of an index listing one child 15,000 times   each manifest fetched once
#   verify with a .sig of 100 payloads of 16 MiB - 1  refused from the declared sizes
#   verify of a layout whose index.json is a FIFO     refused, not waited on
#   16 concurrent 99 MiB uploads to hallmark trust serve: server peak RSS, after RSS, statuses
# Env: HALLMARK_BIN (else builds target/release/hallmark), HALLMARK_BENCH_KEEP=1.

CMD_TIMEOUT=1800
step "setup: python3, curl, time; hallmark (release build)"
apt_ensure python3 curl time
HM="$(hallmark_release_bin)"
step_done

WORK="$(mktemp -d -t hallmark-bench-hostile.XXXXXX)"
SERVE_PID=""
cleanup() {
  local rc=$?
  [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null
  if [ "${HALLMARK_BENCH_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT

step "hostile layouts"
python3 - "$WORK" <<'PY'
import hashlib, json, os, sys
root = sys.argv[1]
OCI_M = "application/vnd.oci.image.manifest.v1+json"
OCI_I = "application/vnd.oci.image.index.v1+json"
def layout(d):
    os.makedirs(d + "/blobs/sha256", exist_ok=True)
    open(d + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
def blob(d, b):
    h = hashlib.sha256(b).hexdigest()
    open(f"{d}/blobs/sha256/{h}", "wb").write(b)
    return "sha256:" + h
def tagged(d, entries):
    open(d + "/index.json", "w").write(json.dumps({"schemaVersion": 2, "mediaType": OCI_I, "manifests": entries}))
def image(d):
    cfg = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    c = blob(d, cfg)
    m = json.dumps({"schemaVersion": 2, "mediaType": OCI_M, "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": c, "size": len(cfg)}, "layers": []}).encode()
    return blob(d, m), len(m)
def ref(name): return {"org.opencontainers.image.ref.name": name}
d = root + "/deep"; layout(d); dig, size = image(d); mt = OCI_M
for _ in range(2000):
    b = json.dumps({"schemaVersion": 2, "mediaType": OCI_I, "manifests": [{"mediaType": mt, "digest": dig, "size": size}]}).encode()
    dig, size, mt = blob(d, b), len(b), OCI_I
tagged(d, [{"mediaType": OCI_I, "digest": dig, "size": size, "annotations": ref("v1")}])
d = root + "/wide"; layout(d); dig, size = image(d)
b = json.dumps({"schemaVersion": 2, "mediaType": OCI_I, "manifests": [{"mediaType": OCI_M, "digest": dig, "size": size}] * 15000}).encode()
tagged(d, [{"mediaType": OCI_I, "digest": blob(d, b), "size": len(b), "annotations": ref("v1")}])
d = root + "/fat"; layout(d); dig, size = image(d)
layers = []
for i in range(100):
    p = ((b"%03d" % i) * ((16 << 20) // 3))[: (16 << 20) - 1]
    layers.append({"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "digest": blob(d, p), "size": len(p)})
c = blob(d, b"{}")
sig = json.dumps({"schemaVersion": 2, "mediaType": OCI_M, "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": c, "size": 2}, "layers": layers}).encode()
tagged(d, [{"mediaType": OCI_M, "digest": dig, "size": size, "annotations": ref("v1")},
           {"mediaType": OCI_M, "digest": blob(d, sig), "size": len(sig), "annotations": ref("sha256-" + dig[7:] + ".sig")}])
d = root + "/fifo"; layout(d); dig, size = image(d)
os.mkfifo(d + "/index.json")
PY
export HALLMARK_PASSWORD="bench-pass"
run_bounded 60 "$HM" key generate --output-prefix "$WORK/key" >/dev/null 2>&1 || die "key generate failed"
step_done

: >"$WORK/results"
# measure NAME CMD... : peak RSS, wall time and exit status of one bounded run
measure() {
  local name="$1" rc
  shift
  if run_bounded 120 /usr/bin/time -f '%M %e' -o "$WORK/time.out" "$@" >"$WORK/cmd.log" 2>&1; then
    rc=0
  else
    rc=$?
  fi
  read -r rss wall < <(tail -1 "$WORK/time.out") || { rss=0; wall=120; }
  printf '%s|%s MiB|%s s|exit %s|%s\n' "$name" "$((rss / 1024))" "$wall" "$rc" \
    "$(tail -c 160 "$WORK/cmd.log" | tr '\n' ' ')" >>"$WORK/results"
}
step "hostile layouts, each case bounded to 120 s"
measure "copy 2,000 nested indexes" "$HM" copy "oci:$WORK/deep:v1" "oci:$WORK/out-deep:v1"
measure "copy one child listed 15,000 times" "$HM" copy "oci:$WORK/wide:v1" "oci:$WORK/out-wide:v1"
measure "verify 100 payloads of 16 MiB" "$HM" verify --key "$WORK/key.pub" "oci:$WORK/fat:v1"
measure "verify, index.json a FIFO" "$HM" verify --key "$WORK/key.pub" "oci:$WORK/fifo:v1"
step_done

step "16 concurrent 99 MiB uploads to hallmark trust serve"
head -c $((99 << 20)) /dev/urandom >"$WORK/body"
PORT="$(free_port)"
"$HM" trust serve --addr "127.0.0.1:$PORT" --data-dir "$WORK/serve" >"$WORK/serve.log" 2>&1 </dev/null &
SERVE_PID=$!
wait_http "http://127.0.0.1:$PORT/_notary_server/health" 20 || die "trust serve did not start: $(tail -3 "$WORK/serve.log")"
IDLE="$(awk '/VmRSS/ { print int($2 / 1024) }' "/proc/$SERVE_PID/status")"
UPLOADS=()
for i in $(seq 16); do
  curl -s -o /dev/null -w '%{http_code}\n' --max-time 120 --limit-rate 30M -F "targets=@$WORK/body" \
    "http://127.0.0.1:$PORT/v2/registry.example/up$i/_trust/tuf/" >"$WORK/code$i" &
  UPLOADS+=($!)
done
wait "${UPLOADS[@]}" || true
sleep 1
PEAK="$(awk '/VmHWM/ { print int($2 / 1024) }' "/proc/$SERVE_PID/status")"
AFTER="$(awk '/VmRSS/ { print int($2 / 1024) }' "/proc/$SERVE_PID/status")"
CODES="$(cat "$WORK"/code* | sort | uniq -c | awk '{ printf "%s x %s, ", $1, $2 }')"
kill "$SERVE_PID" 2>/dev/null || true
wait "$SERVE_PID" 2>/dev/null || true
SERVE_PID=""
step_done

echo
echo "hostile inputs: $(uname -m), $(nproc) CPUs, $("$HM" --version | head -1)"
echo
{
  echo "case|peak RSS|wall|exit|ends with"
  cat "$WORK/results"
} | column -t -s '|' -o '  |  '
echo
echo "trust serve, 16 x 99 MiB uploads at once: idle ${IDLE} MiB, peak ${PEAK} MiB (target <= 512), after ${AFTER} MiB; statuses: ${CODES%, }"
