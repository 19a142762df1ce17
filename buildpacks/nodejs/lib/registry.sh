# shellcheck shell=bash disable=SC2034 # variables here are read by bin/compile
# Talking to the npm registry named by NPM_CONFIG_REGISTRY: package metadata
# (cached in CACHE_DIR for METADATA_MAX_AGE seconds) and verified tarballs.
#
# Needs: REGISTRY (no trailing slash), META_DIR, PIER_NODEJS_TMP, and the
# output helpers.

CURL_OPTS=(
  --fail --silent --show-error --location
  --connect-timeout 10 --max-time 600
  --retry 3 --retry-delay 2 --retry-connrefused
)

# The reason the registry could not be reached, once a fetch has found out.
REGISTRY_UNREACHABLE=""

# fetch_metadata NAME [force]
# Sets META_FILE to the abbreviated metadata of package NAME and META_SOURCE
# to "fetched", "cached Ns ago" or "stale cache".
fetch_metadata() {
  local name=$1 force=${2:-}
  # A scoped name is one path segment, "@scope%2fname", as npm itself asks for it.
  local escaped=${name/\//%2f}
  local file="$META_DIR/$escaped.json"
  local url="$REGISTRY/$escaped"
  if [[ -z $force && -s $file ]]; then
    local age
    age=$(($(date +%s) - $(stat -c %Y "$file")))
    if ((age >= 0 && age < METADATA_MAX_AGE)); then
      META_FILE=$file
      META_SOURCE="cached ${age}s ago"
      return 0
    fi
  fi
  local part="$file.part.$$" once=() rc=0 reason
  # With a cached copy to fall back on, one attempt is enough: curl retries even
  # a host it cannot resolve, which would cost seconds per package offline.
  [[ -s $file ]] && once=(--retry 0)
  if [[ -n $REGISTRY_UNREACHABLE && -s $file ]]; then
    rc=1
    reason=$REGISTRY_UNREACHABLE
  else
    curl "${CURL_OPTS[@]}" "${once[@]}" --compressed \
      -H 'Accept: application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8' \
      -o "$part" "$url" 2>"$PIER_NODEJS_TMP/curl.err" || rc=$?
    reason=$(tail -n 1 "$PIER_NODEJS_TMP/curl.err")
  fi
  if ((rc == 0)); then
    mv -f "$part" "$file"
    META_FILE=$file
    META_SOURCE="fetched"
    return 0
  fi
  # Host not resolved, not reachable, or timed out: later packages skip the attempt.
  if ((rc == 6 || rc == 7 || rc == 28)); then
    REGISTRY_UNREACHABLE=$reason
  fi
  rm -f "$part"
  if [[ -s $file ]]; then
    warn "Could not refresh the metadata of $name from $url:" "  $reason" "Using the copy cached earlier."
    META_FILE=$file
    META_SOURCE="stale cache"
    return 0
  fi
  error "Could not fetch the metadata of npm package $name." \
    "GET $url failed: $reason" \
    "Pier builds fetch Node.js from the npm registry that the host's npm uses" \
    "(npm config get registry). Check that it is reachable from Docker containers," \
    "and that a TLS-intercepting proxy's CA is in Pier's CA bundle (PIER_CA_BUNDLE)."
}

# verify_file FILE INTEGRITY SHASUM: true when FILE matches the registry's
# dist.integrity (sha512) or, lacking that, dist.shasum (sha1).
verify_file() {
  local file=$1 integrity=$2 shasum=$3 token expected actual
  for token in $integrity; do
    if [[ $token == sha512-* ]]; then
      expected=$(printf '%s' "${token#sha512-}" | base64 -d 2>/dev/null | od -An -v -tx1 | tr -d ' \n') || return 1
      actual=$(sha512sum "$file" | cut -d ' ' -f 1)
      [[ -n $expected && $expected == "$actual" ]]
      return
    fi
  done
  if [[ -n $shasum ]]; then
    actual=$(sha1sum "$file" | cut -d ' ' -f 1)
    [[ $actual == "$shasum" ]]
    return
  fi
  return 1
}

# fetch_tarball URL INTEGRITY SHASUM DEST
# Leaves a verified copy at DEST, reusing DEST when it is already there and
# valid. Sets FETCH_SOURCE to "cache" or "download".
fetch_tarball() {
  local url=$1 integrity=$2 shasum=$3 dest=$4
  if [[ -z $url ]]; then
    error "The registry metadata lists no tarball for ${dest##*/}." \
      "Check the registry named by NPM_CONFIG_REGISTRY ($REGISTRY)."
  fi
  if [[ -z $integrity && -z $shasum ]]; then
    error "The registry metadata has no checksum for $url, so it cannot be verified." \
      "Check the registry named by NPM_CONFIG_REGISTRY ($REGISTRY)."
  fi
  if [[ -s $dest ]]; then
    if verify_file "$dest" "$integrity" "$shasum"; then
      FETCH_SOURCE=cache
      return 0
    fi
    warn "The cached ${dest##*/} is damaged; downloading it again."
    rm -f "$dest"
  fi
  local part="$dest.part.$$"
  if ! curl "${CURL_OPTS[@]}" -o "$part" "$url" 2>"$PIER_NODEJS_TMP/curl.err"; then
    local reason
    reason=$(tail -n 1 "$PIER_NODEJS_TMP/curl.err")
    rm -f "$part"
    error "Could not download $url" "$reason" \
      "Check that the npm registry is reachable from Docker containers, then push again."
  fi
  if ! verify_file "$part" "$integrity" "$shasum"; then
    rm -f "$part"
    error "The download of $url does not match its published checksum." \
      "Expected ${integrity:-sha1 $shasum}." \
      "A proxy may have altered or cut the file. Push again; if it persists, check the proxy."
  fi
  mv -f "$part" "$dest"
  FETCH_SOURCE=download
}

# human_size FILE: "49.3 MB"
human_size() {
  local bytes
  bytes=$(stat -c %s "$1")
  printf '%d.%d MB' $((bytes / 1048576)) $((bytes % 1048576 * 10 / 1048576))
}
