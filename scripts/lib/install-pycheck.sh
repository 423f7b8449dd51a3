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
    pip_venv "$venv" "cryptography==$PYCHECK_CRYPTOGRAPHY" "cbor2==$PYCHECK_CBOR2"
  fi
  HALLMARK_CHECK_PYTHON="$venv/bin/python"
  export HALLMARK_CHECK_PYTHON
  log "independent checks with $("$HALLMARK_CHECK_PYTHON" -c 'import cryptography, importlib.metadata as m; print("cryptography", cryptography.__version__, "cbor2", m.version("cbor2"))' 2>/dev/null)"
}

AICS_WITNESS_VERSION="${HALLMARK_AICS_WITNESS_VERSION:-0.1.0}"

# install_aics_witness : aics-witness (an independent C2SP tlog-witness in Python, from PyPI) in
# a private virtualenv. It declares Python >= 3.12; where the system Python is older (Debian 12
# has 3.11) it is installed with --ignore-requires-python, and the suite's interop test is what
# shows it works there. Exports HALLMARK_AICS_WITNESS (its program).
install_aics_witness() {
  local venv="$HALLMARK_TEST_CACHE/aics-witness-$AICS_WITNESS_VERSION"
  if [ ! -x "$venv/bin/aics-witness" ]; then
    log "installing aics-witness==$AICS_WITNESS_VERSION into $venv"
    local older=()
    if ! python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)'; then
      older=(--ignore-requires-python)
    fi
    pip_venv "$venv" "${older[@]}" "aics-witness==$AICS_WITNESS_VERSION"
  fi
  [ -x "$venv/bin/aics-witness" ] || die "aics-witness missing in $venv"
  HALLMARK_AICS_WITNESS="$venv/bin/aics-witness"
  export HALLMARK_AICS_WITNESS
  log "aics-witness $("$HALLMARK_AICS_WITNESS" --version 2>/dev/null) at $HALLMARK_AICS_WITNESS (Python $(python3 -c 'import platform; print(platform.python_version())'))"
}
