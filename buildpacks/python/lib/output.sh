# shellcheck shell=bash
# Heroku-style build output, written line by line as it happens: steps start
# with "-----> ", details with 7 spaces, warnings and errors with " !     ".
header() { echo "-----> $*"; }
info() { printf '       %s\n' "$@"; }
warn() { printf ' !     %s\n' "$@"; }
# error LINE...: explains the failure on stderr and ends the build.
error() { { echo; printf ' !     %s\n' "$@"; echo; } >&2; exit 1; }
# Indents a command's output as detail lines without buffering it.
indent() { sed -u 's/^/       /'; }
