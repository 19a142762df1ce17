# shellcheck shell=bash
# Heroku-style build output. Every line is written as it happens (the build
# log is streamed live to `git push`). Step lines start with "-----> ",
# detail lines with 7 spaces, warnings and errors with " !     ".

header() {
  echo "-----> $*"
}

info() {
  local line
  for line in "$@"; do
    echo "       $line"
  done
}

warn() {
  local line
  for line in "$@"; do
    echo " !     $line"
  done
}

# error LINE... : prints the lines as an error and ends the build (exit 1).
# Works from subshells too: the marker tells the EXIT handler that the
# failure was already explained.
error() {
  local line
  {
    echo ""
    for line in "$@"; do
      echo " !     $line"
    done
    echo ""
  } >&2
  if [[ -n ${PIER_NODEJS_TMP:-} && -d $PIER_NODEJS_TMP ]]; then
    : >"$PIER_NODEJS_TMP/error-shown"
  fi
  exit 1
}

# Indents a command's output as detail lines without buffering it.
indent() {
  sed -u 's/^/       /'
}
