# shellcheck shell=bash
# pier_export_env_dir ENV_DIR: exports the app's config vars (one file per
# var) for the rest of the compile, as Heroku does, with the same rules as the
# Node.js buildpack. Skipped: names that are not variable names, the names
# this function uses, and variables that would break the build environment or
# the stack's Python (PYTHONHOME, PYTHONPATH). Values are never printed.
pier_export_env_dir() {
  local _pier_file _pier_name
  local _pier_deny='^(PATH|GIT_DIR|CPATH|CPPATH|LD_PRELOAD|LIBRARY_PATH|IFS|BASH_ENV|ENV|SHELLOPTS|BASHOPTS|CDPATH|PS4|PYTHONHOME|PYTHONPATH)$'
  for _pier_file in "$1"/*; do
    _pier_name=${_pier_file##*/}
    if [[ -f $_pier_file && $_pier_name =~ ^[A-Za-z_][A-Za-z0-9_]*$ && ! $_pier_name =~ $_pier_deny && $_pier_name != _pier_* ]]; then
      export "$_pier_name=$(cat "$_pier_file")" 2>/dev/null || true
    fi
  done
}
