# shellcheck shell=bash
# Which package index pip will use, described for the build log, and how to
# tell that pip failed because it could not reach it. Run from BUILD_DIR.

# pip_index_description VENV: the index requirements.txt (-i/--index-url),
# PIP_INDEX_URL or pip's configuration (`pip config list`: install.index-url,
# else global.index-url) names, in that order, with any password masked.
pip_index_description() {
  local venv=$1 url
  if grep -qsE '^[[:space:]]*--no-index([[:space:]]|$)' requirements.txt ||
    [[ ${PIP_NO_INDEX:-} =~ ^(1|[Tt]rue|[Yy]es|[Oo]n)$ ]]; then
    echo "no index (--no-index): only the --find-links locations"
    return
  fi
  url=$(sed -nE 's/^[[:space:]]*(-i|--index-url)[[:space:]=]+([^[:space:]]+).*/\2/p' requirements.txt 2>/dev/null | tail -n 1)
  url=${url:-${PIP_INDEX_URL:-}}
  if [[ -z $url ]]; then
    # `pip config list` sorts its keys, so install.* comes last and wins.
    url=$("$venv/bin/python" -m pip config list 2>/dev/null |
      sed -nE "s/^(global|install)\.index-url='(.*)'\$/\2/p" | tail -n 1)
  fi
  if [[ -z $url ]]; then
    echo "pip's default index (PyPI)"
  else
    sed -E 's#(://[^/:@]+):[^/@]*@#\1:***@#' <<<"$url"
  fi
}

# pip_log_shows_unreachable_index LOG: true when pip's output says it could
# not connect to an index (DNS, refused, timeout, TLS, proxy, 401/403/5xx).
pip_log_shows_unreachable_index() {
  grep -qE 'connection broken by|NewConnectionError|ConnectTimeoutError|ReadTimeoutError|ProxyError|SSLError|Could not fetch URL|Max retries exceeded|HTTP error (40[13]|5[0-9][0-9])|(40[13]|5[0-9][0-9]) (Client|Server) Error' "$1"
}
