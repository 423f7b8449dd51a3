#!/usr/bin/env bash
# install_pycheck : Python's cryptography and cbor2 in a private virtualenv in the test cache,
# for tests that check what hallmark writes with an implementation that is not hallmark's
# (notation envelopes: signatures over the exact protected bytes, chains). Exports
# HALLMARK_CHECK_PYTHON (that virtualenv's python). Source after common.sh.

PYCHECK_CRYPTOGRAPHY="${HALLMARK_PYCHECK_CRYPTOGRAPHY:-50.0.2}"
PYCHECK_CBOR2="${HALLMARK_PYCHECK_CBOR2:-6.2.1}"

install_pycheck() {
  local venv="$HALLMARK_TEST_CACHE/pycheck-cryptography-$PYCHECK_CRYPTOGRAPHY-cbor2-$PYCHECK_CBOR2"
  if ! "$venv/bin/python" -c 'import cryptography, cbor2' 2>/dev/null; then
    log "installing cryptography==$PYCHECK_CRYPTOGRAPHY and cbor2==$PYCHECK_CBOR2 into $venv"
    rm -rf "$venv"
    mkdir -p "$HALLMARK_TEST_CACHE"
    python3 -m venv "$venv" >&2 || die "python3 -m venv failed (install python3-venv)"
    run_bounded 900 "$venv/bin/pip" install --quiet --disable-pip-version-check \
      "cryptography==$PYCHECK_CRYPTOGRAPHY" "cbor2==$PYCHECK_CBOR2" >&2 ||
      die "pip install cryptography==$PYCHECK_CRYPTOGRAPHY cbor2==$PYCHECK_CBOR2 failed"
  fi
  HALLMARK_CHECK_PYTHON="$venv/bin/python"
  export HALLMARK_CHECK_PYTHON
  log "independent checks with $("$HALLMARK_CHECK_PYTHON" -c 'import cryptography, importlib.metadata as m; print("cryptography", cryptography.__version__, "cbor2", m.version("cbor2"))' 2>/dev/null)"
}
