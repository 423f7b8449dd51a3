#!/usr/bin/env bash
# Installs skopeo 1.18 with sigstore support (Debian trixie's build) into the test cache and
# exports HALLMARK_SKOPEO=<wrapper>. Source it and call install_skopeo, or run it directly
# (it then prints the wrapper's path on stdout).
#
# Why: bookworm's skopeo 1.9.3 has sigstore signing and sigstoreSigned policies disabled by a
# Debian patch. Trixie's skopeo needs glibc 2.38, so the wrapper runs it through trixie's own
# dynamic loader and libraries, extracted next to it. Nothing is installed system-wide: the
# packages come from `apt-get download` with a private apt state (sources, lists, cache), so
# /etc/apt and the system's package database stay untouched.
#
# Layout: $HALLMARK_TEST_CACHE/skopeo-trixie/{skopeo (wrapper), sysroot/ (extracted .debs)}; the apt
# state and the .debs are deleted once the wrapper works.
# Env: HALLMARK_DEBIAN_MIRROR overrides the mirror read from /etc/apt.

if ! declare -F apt_ensure >/dev/null; then
  # shellcheck source=common.sh
  source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
fi

SKOPEO_DIR="$HALLMARK_TEST_CACHE/skopeo-trixie"
SKOPEO_WRAPPER="$SKOPEO_DIR/skopeo"
SKOPEO_WANT_VERSION="1.18"
SKOPEO_DEBS=(skopeo libc6 libgpgme11t64 libsqlite3-0 libassuan9 libgpg-error0)

# debian_mirror : the Debian archive this machine's apt already uses (first entry for the
# system's own release, security archive excluded), from deb822 .sources or one-line .list files.
debian_mirror() {
  if [ -n "${HALLMARK_DEBIAN_MIRROR:-}" ]; then
    echo "${HALLMARK_DEBIAN_MIRROR%/}"
    return
  fi
  local codename files=() f uri
  codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
  for f in /etc/apt/sources.list.d/*.sources; do [ -f "$f" ] && files+=("$f"); done
  if [ ${#files[@]} -gt 0 ]; then
    uri="$(awk -v cn="$codename" 'BEGIN { RS = ""; FS = "\n" }
      {
        uris = ""; suites = ""; enabled = 1
        for (i = 1; i <= NF; i++) {
          line = $i
          if (line ~ /^[[:space:]]*#/) continue
          if (line ~ /^URIs:/)    { sub(/^URIs:[[:space:]]*/, "", line); uris = line }
          if (line ~ /^Suites:/)  { sub(/^Suites:[[:space:]]*/, "", line); suites = " " line " " }
          if (line ~ /^Enabled:[[:space:]]*no/) enabled = 0
        }
        if (enabled && uris != "" && suites ~ (" " cn " ")) { split(uris, u, /[[:space:]]+/); print u[1]; exit }
      }' "${files[@]}")"
  fi
  if [ -z "$uri" ]; then
    files=()
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do [ -f "$f" ] && files+=("$f"); done
    if [ ${#files[@]} -gt 0 ]; then
      uri="$(awk -v cn="$codename" '
        $1 == "deb" {
          n = 2; if ($2 ~ /^\[/) { while (n <= NF && $n !~ /\]$/) n++; n++ }
          if ($(n + 1) == cn) { print $n; exit }
        }' "${files[@]}")"
    fi
  fi
  [ -n "$uri" ] || die "could not find the Debian mirror in /etc/apt (set HALLMARK_DEBIAN_MIRROR)"
  echo "${uri%/}"
}

skopeo_wrapper_ok() {
  [ -x "$SKOPEO_WRAPPER" ] && timeout 30 "$SKOPEO_WRAPPER" --version 2>/dev/null | grep -q "version $SKOPEO_WANT_VERSION"
}

_install_skopeo_locked() {
  if skopeo_wrapper_ok; then return 0; fi
  local mirror stage apt_opts d triplet loader
  mirror="$(debian_mirror)"
  log "fetching Debian trixie ${SKOPEO_DEBS[*]} from $mirror (private apt state in $SKOPEO_DIR/apt)"
  rm -rf "${SKOPEO_DIR:?}"/* # a previous, broken or partial install
  mkdir -p "$SKOPEO_DIR/apt/lists/partial" "$SKOPEO_DIR/apt/cache/archives/partial" "$SKOPEO_DIR/debs"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" \
    >"$SKOPEO_DIR/apt/sources.list"
  apt_opts=(
    -o "Dir::Etc::SourceList=$SKOPEO_DIR/apt/sources.list"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$SKOPEO_DIR/apt/lists"
    -o "Dir::Cache=$SKOPEO_DIR/apt/cache"
    -o "APT::Sandbox::User=root"
    -o "Acquire::Retries=3"
    -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
    -o "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false"
    -o "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false"
    -o "Acquire::IndexTargets::deb::CNF::DefaultEnabled=false"
  )
  [ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || apt_ensure debian-archive-keyring
  timeout 600 apt-get "${apt_opts[@]}" update -q >&2
  (cd "$SKOPEO_DIR/debs" && timeout 600 apt-get "${apt_opts[@]}" download "${SKOPEO_DEBS[@]}" >&2)

  stage="$SKOPEO_DIR/sysroot.new"
  mkdir -p "$stage"
  for d in "$SKOPEO_DIR"/debs/*.deb; do dpkg -x "$d" "$stage"; done
  triplet="$(cd "$stage/usr/lib" && ls -d ./*-linux-gnu* | head -1)"
  triplet="${triplet#./}"
  loader="$(cd "$stage/usr/lib/$triplet" && ls ld-linux*.so.* | head -1)"
  [ -n "$triplet" ] && [ -n "$loader" ] && [ -x "$stage/usr/bin/skopeo" ] ||
    die "unexpected package contents in $stage (triplet '$triplet', loader '$loader')"
  # keep only what the wrapper needs: the binary and the shared libraries
  find "$stage" -mindepth 1 -maxdepth 1 ! -name usr -exec rm -rf {} +
  find "$stage/usr" -mindepth 1 -maxdepth 1 ! -name bin ! -name lib -exec rm -rf {} +
  mv "$stage" "$SKOPEO_DIR/sysroot"
  rm -rf "$SKOPEO_DIR/apt" "$SKOPEO_DIR/debs"

  cat >"$SKOPEO_WRAPPER.tmp" <<WRAPPER
#!/bin/sh
# skopeo 1.18 from Debian trixie (sigstore enabled), run through trixie's own dynamic loader and
# libraries because the binary needs a newer glibc than the host has. Written by install-skopeo.sh.
R="\$(cd "\$(dirname "\$0")" && pwd)/sysroot"
L="\$R/usr/lib/$triplet"
exec "\$L/$loader" --library-path "\$L" "\$R/usr/bin/skopeo" "\$@"
WRAPPER
  chmod +x "$SKOPEO_WRAPPER.tmp"
  mv "$SKOPEO_WRAPPER.tmp" "$SKOPEO_WRAPPER"
  skopeo_wrapper_ok || die "$SKOPEO_WRAPPER does not report skopeo $SKOPEO_WANT_VERSION: $("$SKOPEO_WRAPPER" --version 2>&1 | head -3)"
}

# install_skopeo : idempotent; exports HALLMARK_SKOPEO
install_skopeo() {
  mkdir -p "$SKOPEO_DIR"
  if ! skopeo_wrapper_ok; then
    # one installer at a time (parallel CI jobs sharing a cache); bounded wait for the lock
    (
      flock -w 600 9 || die "timed out waiting for $SKOPEO_DIR.lock"
      _install_skopeo_locked
    ) 9>"$SKOPEO_DIR.lock"
  fi
  HALLMARK_SKOPEO="$SKOPEO_WRAPPER"
  export HALLMARK_SKOPEO
  log "skopeo: $("$HALLMARK_SKOPEO" --version) ($HALLMARK_SKOPEO)"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  install_skopeo
  echo "$HALLMARK_SKOPEO"
fi
