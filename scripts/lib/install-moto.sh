#!/usr/bin/env bash
# install_moto : moto[server] (an AWS KMS and Secrets Manager server for loopback tests) in a
# private virtualenv in the test cache. Exports HALLMARK_MOTO_SERVER (the moto_server program).
# Source after common.sh.

MOTO_VERSION="${HALLMARK_MOTO_VERSION:-5.2.5}"

install_moto() {
  local venv="$HALLMARK_TEST_CACHE/moto-$MOTO_VERSION"
  if [ ! -x "$venv/bin/moto_server" ]; then
    log "installing moto[server]==$MOTO_VERSION into $venv"
    pip_venv "$venv" "moto[server]==$MOTO_VERSION"
  fi
  [ -x "$venv/bin/moto_server" ] || die "moto_server missing in $venv"
  HALLMARK_MOTO_SERVER="$venv/bin/moto_server"
  export HALLMARK_MOTO_SERVER
  log "moto $("$venv/bin/python" -c 'import moto; print(moto.__version__)' 2>/dev/null) at $HALLMARK_MOTO_SERVER"
}
