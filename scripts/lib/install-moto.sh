#!/usr/bin/env bash
# install_moto : moto[server] (an AWS KMS and Secrets Manager server for loopback tests) in a
# private virtualenv in the test cache. Exports HALLMARK_MOTO_SERVER (the moto_server program).
# Source after common.sh.

MOTO_VERSION="${HALLMARK_MOTO_VERSION:-5.2.5}"

install_moto() {
  local venv="$HALLMARK_TEST_CACHE/moto-$MOTO_VERSION"
  if [ ! -x "$venv/bin/moto_server" ]; then
    log "installing moto[server]==$MOTO_VERSION into $venv"
    rm -rf "$venv"
    mkdir -p "$HALLMARK_TEST_CACHE"
    python3 -m venv "$venv" >&2 || die "python3 -m venv failed (install python3-venv)"
    run_bounded 900 "$venv/bin/pip" install --quiet --disable-pip-version-check \
      "moto[server]==$MOTO_VERSION" >&2 || die "pip install moto[server]==$MOTO_VERSION failed"
  fi
  [ -x "$venv/bin/moto_server" ] || die "moto_server missing in $venv"
  HALLMARK_MOTO_SERVER="$venv/bin/moto_server"
  export HALLMARK_MOTO_SERVER
  log "moto $("$venv/bin/python" -c 'import moto; print(moto.__version__)' 2>/dev/null) at $HALLMARK_MOTO_SERVER"
}
