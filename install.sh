#!/bin/bash
# Pier installer and upgrader. Run as root from the checkout:
#
#   sudo ./install.sh
#
# Installs what Pier needs (Docker, Redis, debootstrap, git), builds Pier,
# writes /etc/pier/pier.env (once), builds the stack image, runs `pier setup`
# and starts (or restarts) the daemon. Running it again upgrades in place and
# takes seconds; app containers keep running while the daemon restarts.
#
# Settings given in the environment are written to /etc/pier/pier.env when it
# is first created: PIER_API_PORT, PIER_HTTP_PORT, PIER_HTTPS_PORT, PIER_DOMAIN,
# PIER_REDIS_URL, PIER_HOME. Afterwards the file is the place to change them.
#
# Other knobs (environment): PIER_HEALTH_TIMEOUT (seconds to wait for the
# daemon, default 30), PIER_DOCKER_TIMEOUT (default 30), PIER_INSTALL_NGINX=1
# (install Debian's nginx for the nginx data plane, `pier proxy:type nginx`).
set -euo pipefail

PIER_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ENV_DIR=/etc/pier
ENV_FILE=$ENV_DIR/pier.env
LOG_DIR=/var/log/pier
RUN_DIR=/run/pier
PIER_LINK=/usr/local/bin/pier
UNIT_FILE=/etc/systemd/system/pier.service
REDIS_CONF=/etc/redis/redis.conf
REDIS_PIER_CONF=/etc/redis/pier.conf
HEALTH_TIMEOUT=${PIER_HEALTH_TIMEOUT:-30}
DOCKER_TIMEOUT=${PIER_DOCKER_TIMEOUT:-30}
NODE_MIN_MAJOR=20

export DEBIAN_FRONTEND=noninteractive
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
umask 022
START_TIME=$(date +%s)

step() { echo "-----> $*"; }
info() { echo "       $*"; }
warn() { echo " !     $*" >&2; }
die()  { warn "$@"; exit 1; }
indent() { sed -e '/^[[:space:]]*$/d' -e 's/^/       /'; }

have() { command -v "$1" >/dev/null 2>&1; }
uses_systemd() { [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && have systemctl; }

# Starts a long-running program detached from this script: new session, stdin
# from /dev/null, output to a log, and none of our other file descriptors (a
# CI runner waiting for our output to close must not wait for the daemons).
# Sets SPAWNED_PID.
spawn_detached() {
  local log=$1; shift
  (
    close_extra_fds
    exec setsid nohup "$@" </dev/null >>"$log" 2>&1
  ) &
  SPAWNED_PID=$!
}

# Closes every file descriptor above 2 (call it in a subshell).
close_extra_fds() {
  local fd
  for fd in /proc/self/fd/*; do
    fd=${fd##*/}
    if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
}

# wait_for SECONDS COMMAND...: polls COMMAND every half second.
wait_for() {
  local timeout=$1 deadline; shift
  deadline=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}

# A process that exists and is not a zombie (an init that is not systemd may be
# slow to reap the processes it inherits).
pid_alive() {
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
  local stat; stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}
pid_gone() { ! pid_alive "$1"; }

# Pid from a pid file if that process is alive and its command line contains $2.
live_pid_from() {
  local file=$1 pattern=$2 pid
  [ -r "$file" ] || return 1
  pid=$(tr -dc '0-9' <"$file")
  pid_alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pattern" || return 1
  echo "$pid"
}

# --- 1. prerequisites ---------------------------------------------------------

check_prerequisites() {
  step "Checking prerequisites"
  [ "$(id -u)" -eq 0 ] || die "run as root: sudo ./install.sh"

  local version major
  if ! have node; then
    die "Pier needs Node.js $NODE_MIN_MAJOR or newer; found none (node is not on PATH)"
  fi
  version=$(node -v 2>/dev/null || echo unknown)
  major=${version#v}; major=${major%%.*}
  if ! [ "$major" -ge "$NODE_MIN_MAJOR" ] 2>/dev/null; then
    die "Pier needs Node.js $NODE_MIN_MAJOR or newer; found $version"
  fi
  have npm || die "npm is missing (it comes with Node.js); Pier needs it to install its dependencies"
  info "Node.js $version, npm $(npm -v 2>/dev/null)"

  if ! grep -qw overlay /proc/filesystems; then
    modprobe overlay >/dev/null 2>&1 || true
    grep -qw overlay /proc/filesystems ||
      die "the kernel has no overlay filesystem (needed by Docker's overlay2 storage); 'modprobe overlay' did not help"
  fi
  [ -f "$PIER_SRC/package.json" ] || die "run install.sh from a Pier checkout (no package.json in $PIER_SRC)"
  if uses_systemd; then info "init: systemd"; else info "init: $(cat /proc/1/comm 2>/dev/null || echo unknown) (no systemd; Pier supervises its services itself)"; fi
}

# --- 2. system packages -------------------------------------------------------

# "package:test" — the test is a command name, or a path when it starts with /.
REQUIRED=(
  git:git
  docker.io:dockerd
  redis-server:redis-server
  redis-tools:redis-cli
  debootstrap:debootstrap
  debian-archive-keyring:/usr/share/keyrings/debian-archive-keyring.gpg
  ca-certificates:/etc/ssl/certs/ca-certificates.crt
  curl:curl
)

install_packages() {
  step "System packages"
  local entry pkg test missing=()
  for entry in "${REQUIRED[@]}"; do
    pkg=${entry%%:*}; test=${entry#*:}
    if [ "${test#/}" != "$test" ]; then [ -e "$test" ] && continue
    else have "$test" && continue
    fi
    missing+=("$pkg")
  done
  # docker.io brings the client too; a Docker from elsewhere (docker-ce) is fine.
  if ! have docker && [[ " ${missing[*]} " != *" docker.io "* ]]; then missing+=(docker.io); fi
  if [ "${#missing[@]}" -eq 0 ]; then
    info "all present (git, docker, redis, debootstrap, curl, CA certificates)"
    return 0
  fi
  have apt-get || die "missing ${missing[*]}, and there is no apt-get to install them: install them by hand (Pier's installer supports Debian and Ubuntu)"

  info "installing: ${missing[*]}"
  # Without systemd, package scripts must not start services on their own:
  # this script starts them the way it manages them.
  local policy_added=0
  if ! uses_systemd && [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# written by pier install.sh while installing packages\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    policy_added=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  local log; log=$(mktemp /tmp/pier-apt.XXXXXX)
  if ! { apt-get update -q && apt-get install -y -q \
           -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
           "${missing[@]}"; } >"$log" 2>&1; then
    tail -n 30 "$log" | indent >&2
    die "apt-get could not install ${missing[*]} (full log: $log)"
  fi
  rm -f "$log"
  info "installed"
  if [ "$policy_added" -eq 1 ]; then rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
}

# The nginx data plane runs an nginx master of its own (prefix $PIER_HOME/nginx,
# serving the daemon's socket): the package's own service must not take port 80.
install_nginx() {
  [ "${PIER_INSTALL_NGINX:-0}" = 1 ] || return 0
  step "nginx (for pier proxy:type nginx)"
  if have nginx || [ -x /usr/sbin/nginx ]; then info "present: $(/usr/sbin/nginx -v 2>&1)"; return 0; fi
  have apt-get || die "PIER_INSTALL_NGINX=1, and there is no apt-get: install nginx by hand"
  local policy_added=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# written by pier install.sh while installing nginx\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    policy_added=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  local log; log=$(mktemp /tmp/pier-apt.XXXXXX)
  if ! { apt-get update -q && apt-get install -y -q --no-install-recommends nginx-light; } >"$log" 2>&1; then
    tail -n 30 "$log" | indent >&2
    die "apt-get could not install nginx-light (full log: $log)"
  fi
  rm -f "$log"
  if [ "$policy_added" -eq 1 ]; then rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
  if uses_systemd; then systemctl disable --now nginx.service >/dev/null 2>&1 || true; fi
  info "installed $(/usr/sbin/nginx -v 2>&1); its own service stays off"
}

# --- 3. settings --------------------------------------------------------------

write_settings() {
  step "Settings in $ENV_FILE"
  mkdir -p "$ENV_DIR"
  chmod 0755 "$ENV_DIR"
  if [ -f "$ENV_FILE" ]; then
    info "kept (edit it and run install.sh again to apply)"
  else
    local tmp; tmp=$(mktemp "$ENV_DIR/.pier.env.XXXXXX")
    chmod 0600 "$tmp"
    cat >"$tmp" <<EOF
# Pier settings, read by the daemon (systemd's EnvironmentFile or pier-supervise)
# and by install.sh. Written once by install.sh and never overwritten.
# Run ./install.sh again after editing to restart the daemon with them.

# Port of the HTTP API and the git endpoint (git remotes point here).
PIER_API_PORT=${PIER_API_PORT:-7780}

# Port the router serves apps on.
PIER_HTTP_PORT=${PIER_HTTP_PORT:-80}

# Port the router serves HTTPS on, for apps with a certificate (pier certs:add).
PIER_HTTPS_PORT=${PIER_HTTPS_PORT:-443}

# Apps are served at http://<app>.<PIER_DOMAIN>.
PIER_DOMAIN=${PIER_DOMAIN:-localhost}

# Redis holding Pier's state and build queue (AOF persistence is turned on by
# install.sh for the local one).
PIER_REDIS_URL=${PIER_REDIS_URL:-redis://127.0.0.1:6379}

# Pier's data: git repositories, build sources, API tokens.
PIER_HOME=${PIER_HOME:-/var/lib/pier}

# CA bundle trusted inside build containers (default: the system bundle).
#PIER_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
EOF
    mv "$tmp" "$ENV_FILE"
    info "created with the defaults (mode 0600)"
  fi
  chmod 0600 "$ENV_FILE"

  set -a
  # shellcheck disable=SC1090
  . "$ENV_FILE"
  set +a
  export PIER_API_PORT=${PIER_API_PORT:-7780} PIER_HTTP_PORT=${PIER_HTTP_PORT:-80} PIER_HTTPS_PORT=${PIER_HTTPS_PORT:-443} \
    PIER_DOMAIN=${PIER_DOMAIN:-localhost} PIER_REDIS_URL=${PIER_REDIS_URL:-redis://127.0.0.1:6379} \
    PIER_HOME=${PIER_HOME:-/var/lib/pier}
  info "API port $PIER_API_PORT, HTTP port $PIER_HTTP_PORT, HTTPS port $PIER_HTTPS_PORT, domain $PIER_DOMAIN, home $PIER_HOME"
}

# --- 4. Docker ----------------------------------------------------------------

docker_ready_or_gone() { docker info >/dev/null 2>&1 || pid_gone "$DOCKERD_PID"; }

start_docker() {
  step "Docker"
  if uses_systemd; then
    systemctl enable --now docker >/dev/null 2>&1 || true
    if ! wait_for "$DOCKER_TIMEOUT" docker info; then
      journalctl -u docker -n 30 --no-pager 2>/dev/null | indent >&2 || true
      die "Docker did not start (systemctl status docker; journalctl -u docker)"
    fi
  elif docker info >/dev/null 2>&1; then
    :
  else
    local log=$LOG_DIR/dockerd.log pid
    mkdir -p "$LOG_DIR" "$RUN_DIR"
    if pid=$(live_pid_from "$RUN_DIR/dockerd.pid" dockerd); then
      info "dockerd (pid $pid) is starting; waiting for it"
    else
      have dockerd || die "dockerd is not installed"
      spawn_detached "$log" dockerd
      pid=$SPAWNED_PID
      echo "$pid" >"$RUN_DIR/dockerd.pid"
      info "started dockerd (pid $pid, log $log)"
    fi
    DOCKERD_PID=$pid
    wait_for "$DOCKER_TIMEOUT" docker_ready_or_gone || true
    if ! docker info >/dev/null 2>&1; then
      tail -n 25 "$log" 2>/dev/null | indent >&2 || true
      pid_alive "$pid" || die "dockerd exited without starting Docker (log: $log)"
      die "Docker did not start within ${DOCKER_TIMEOUT}s (log: $log)"
    fi
  fi
  info "Docker $(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?') is running"
}

# --- 5. Redis -----------------------------------------------------------------

REDIS_HOST=127.0.0.1
REDIS_PORT=6379
REDIS_AUTH=()

parse_redis_url() {
  local rest=${PIER_REDIS_URL#*://} auth hostport
  rest=${rest%%/*}
  if [[ $rest == *@* ]]; then
    auth=${rest%@*}; hostport=${rest##*@}
    if [[ $auth == *:* ]]; then
      [ -z "${auth#*:}" ] || REDIS_AUTH=(--no-auth-warning --pass "${auth#*:}")
      [ -z "${auth%%:*}" ] || REDIS_AUTH+=(--user "${auth%%:*}")
    fi
  else
    hostport=$rest
  fi
  if [[ $hostport == \[*\]* ]]; then            # [::1]:6379
    REDIS_HOST=${hostport%%]*}; REDIS_HOST=${REDIS_HOST#[}
    hostport=${hostport#*]}
    REDIS_PORT=${hostport#:}
  else
    REDIS_HOST=${hostport%%:*}
    [[ $hostport == *:* ]] && REDIS_PORT=${hostport##*:} || REDIS_PORT=
  fi
  REDIS_HOST=${REDIS_HOST:-127.0.0.1}
  REDIS_PORT=${REDIS_PORT:-6379}
}

rcli() { redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" "${REDIS_AUTH[@]}" "$@"; }
redis_up() { [ "$(rcli ping 2>/dev/null)" = PONG ]; }

configure_redis_file() {
  # Settings Pier needs go to a file of our own, included at the end of
  # Debian's redis.conf so they win over earlier lines.
  REDIS_CONF_CHANGED=0
  [ -f "$REDIS_CONF" ] || { warn "$REDIS_CONF not found; not configuring Redis persistence in a file"; return 0; }
  local want
  want=$'# Written by Pier\'s install.sh (included from redis.conf). Pier keeps its\n# state and build queue in Redis: log every write (AOF), never evict keys.\nappendonly yes\nmaxmemory-policy noeviction\n'
  if [ "$(cat "$REDIS_PIER_CONF" 2>/dev/null)"$'\n' != "$want" ]; then
    printf '%s' "$want" >"$REDIS_PIER_CONF"
    REDIS_CONF_CHANGED=1
  fi
  if getent passwd redis >/dev/null; then chown redis:redis "$REDIS_PIER_CONF"; fi
  chmod 0640 "$REDIS_PIER_CONF"
  if ! grep -qxF "include $REDIS_PIER_CONF" "$REDIS_CONF"; then
    printf '\n# Pier (install.sh): persistence and eviction settings Pier needs.\ninclude %s\n' "$REDIS_PIER_CONF" >>"$REDIS_CONF"
    REDIS_CONF_CHANGED=1
  fi
}

aof_rewrite_done() {
  local persistence
  persistence=$(rcli info persistence 2>/dev/null | tr -d '\r')
  grep -qx 'aof_rewrite_in_progress:0' <<<"$persistence" && grep -qx 'aof_rewrite_scheduled:0' <<<"$persistence"
}

apply_redis_live() {
  # Apply to the running server too (no restart: keeps clients connected, and
  # turning AOF on live writes the current data into it first).
  local cur changed=0
  cur=$(rcli config get appendonly 2>/dev/null | sed -n 2p)
  if [ "$cur" != yes ]; then
    [ "$(rcli config set appendonly yes 2>&1)" = OK ] || die "could not turn on AOF persistence in the running Redis (CONFIG SET appendonly yes)"
    changed=1
  fi
  cur=$(rcli config get maxmemory-policy 2>/dev/null | sed -n 2p)
  if [ "$cur" != noeviction ]; then
    [ "$(rcli config set maxmemory-policy noeviction 2>&1)" = OK ] || die "could not set maxmemory-policy noeviction in the running Redis"
    changed=1
  fi
  if [ "$changed" -eq 1 ]; then
    info "applied appendonly yes, maxmemory-policy noeviction to the running Redis"
    # Let the first AOF rewrite finish, so the data is on disk in the new form.
    wait_for 60 aof_rewrite_done || warn "the first AOF rewrite is still running; Redis finishes it in the background"
  fi
}

start_redis() {
  step "Redis"
  parse_redis_url
  case $REDIS_HOST in
    127.0.0.1|localhost|::1) ;;
    *)
      info "PIER_REDIS_URL points at $REDIS_HOST:$REDIS_PORT; not managing a local Redis"
      redis_up || warn "Redis at $REDIS_HOST:$REDIS_PORT does not answer PING"
      return 0 ;;
  esac
  configure_redis_file
  [ "$REDIS_CONF_CHANGED" -eq 0 ] || info "configured $REDIS_PIER_CONF (appendonly yes, maxmemory-policy noeviction), included from $REDIS_CONF"

  if uses_systemd; then
    systemctl enable --now redis-server >/dev/null 2>&1 || true
  elif ! redis_up; then
    local log=/var/log/redis/redis-server.log
    mkdir -p /run/redis /var/log/redis /var/lib/redis
    local as=()
    if getent passwd redis >/dev/null; then
      chown redis:redis /run/redis /var/lib/redis
      chown redis /var/log/redis
      as=(runuser -u redis --)
    fi
    local out
    # redis-server daemonizes itself (its stdio goes to /dev/null then).
    if ! out=$(close_extra_fds
               exec "${as[@]}" redis-server "$REDIS_CONF" --daemonize yes --port "$REDIS_PORT" \
                 --pidfile /run/redis/redis-server.pid --logfile "$log" </dev/null 2>&1); then
      echo "$out" | indent >&2
      die "redis-server did not start"
    fi
    info "started redis-server (pid file /run/redis/redis-server.pid, log $log)"
  fi
  if ! wait_for 15 redis_up; then
    tail -n 20 /var/log/redis/redis-server.log 2>/dev/null | indent >&2 || true
    die "Redis does not answer on $REDIS_HOST:$REDIS_PORT"
  fi
  apply_redis_live
  info "Redis $(rcli info server 2>/dev/null | sed -n 's/^redis_version:\(.*\)\r$/\1/p') is running, with AOF persistence"
}

# --- 6. Node dependencies and build -------------------------------------------

build_pier() {
  step "Node dependencies"
  cd "$PIER_SRC"
  [ -f package-lock.json ] || die "package-lock.json is missing in $PIER_SRC"
  # The stamp records the lock file and Node's module ABI (native addons).
  local stamp=node_modules/.pier-lock-stamp want
  want="$(sha256sum package-lock.json | cut -d' ' -f1) node-abi-$(node -p process.versions.modules)"
  if [ -d node_modules ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    info "up to date (package-lock.json unchanged)"
  else
    npm ci --no-audit --no-fund 2>&1 | indent || die "npm ci failed"
    echo "$want" >"$stamp"
  fi

  step "Building Pier"
  npm run --silent build 2>&1 | indent || die "npm run build failed"
  [ -d dist ] || die "npm run build produced no dist/"
}

# --- 7. stack image -----------------------------------------------------------

build_stack() {
  "$PIER_SRC/stack/build-stack.sh"
}

# --- 8. the pier command ------------------------------------------------------

link_pier() {
  step "Command pier"
  [ -x "$PIER_SRC/bin/pier" ] || die "$PIER_SRC/bin/pier is missing or not executable"
  if [ "$(readlink "$PIER_LINK" 2>/dev/null)" != "$PIER_SRC/bin/pier" ]; then
    mkdir -p "$(dirname "$PIER_LINK")"
    ln -sfn "$PIER_SRC/bin/pier" "$PIER_LINK"
  fi
  info "$PIER_LINK -> $PIER_SRC/bin/pier"

  step "pier setup"
  "$PIER_LINK" setup 2>&1 | sed 's/^-----> //' | indent || die "pier setup failed"
}

# --- 9. the daemon ------------------------------------------------------------

healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$PIER_API_PORT/healthz" >/dev/null 2>&1; }

wait_healthy() {
  if ! wait_for "$HEALTH_TIMEOUT" healthy; then
    warn "the daemon did not answer http://127.0.0.1:$PIER_API_PORT/healthz within ${HEALTH_TIMEOUT}s; the end of its log:"
    if uses_systemd; then
      journalctl -u pier -n 40 --no-pager 2>/dev/null | indent >&2 || true
    else
      tail -n 40 "$LOG_DIR/daemon.log" 2>/dev/null | indent >&2 || true
    fi
    exit 1
  fi
}

start_daemon_systemd() {
  local tmp; tmp=$(mktemp)
  local path_dirs; path_dirs="$(dirname "$(command -v node)"):/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  sed -e "s|@PATH@|$path_dirs|g" -e "s|@PIER_SRC@|$PIER_SRC|g" "$PIER_SRC/system/pier.service" >"$tmp"
  if ! cmp -s "$tmp" "$UNIT_FILE"; then
    install -m 0644 "$tmp" "$UNIT_FILE"
    systemctl daemon-reload
    info "wrote $UNIT_FILE"
  fi
  rm -f "$tmp"
  systemctl enable pier >/dev/null 2>&1
  systemctl restart pier
  info "systemctl restart pier"
}

start_daemon_supervised() {
  local supervise=$PIER_SRC/system/pier-supervise sup daemon
  local sum; sum=$(sha256sum "$supervise" | cut -d' ' -f1)
  mkdir -p "$LOG_DIR" "$RUN_DIR"

  if sup=$(live_pid_from "$RUN_DIR/supervisor.pid" pier-supervise) &&
     [ "$(cat "$RUN_DIR/supervisor.sha256" 2>/dev/null)" != "$sum" ]; then
    # The supervisor itself changed: replace it (it stops the daemon on TERM;
    # app containers keep running).
    info "pier-supervise changed; restarting it (pid $sup)"
    kill -TERM "$sup"
    wait_for 35 pid_gone "$sup" || { warn "pier-supervise (pid $sup) did not stop; killing it"; kill -KILL "$sup" 2>/dev/null || true; }
    if daemon=$(live_pid_from "$RUN_DIR/daemon.pid" daemon); then kill -KILL "$daemon" 2>/dev/null || true; fi
    sup=
  fi

  if [ -n "${sup:-}" ] || sup=$(live_pid_from "$RUN_DIR/supervisor.pid" pier-supervise); then
    if daemon=$(live_pid_from "$RUN_DIR/daemon.pid" daemon); then
      info "restarting the daemon (pid $daemon) under pier-supervise (pid $sup)"
      kill -TERM "$daemon"
      if ! wait_for 30 pid_gone "$daemon"; then
        warn "the daemon (pid $daemon) did not stop within 30s; killing it"
        kill -KILL "$daemon" 2>/dev/null || true
      fi
    else
      info "pier-supervise (pid $sup) is running; it restarts the daemon"
    fi
  else
    echo "$sum" >"$RUN_DIR/supervisor.sha256"
    spawn_detached "$LOG_DIR/daemon.log" "$supervise"
    sup=$SPAWNED_PID
    wait_for 5 test -s "$RUN_DIR/supervisor.pid" || true
    info "started pier-supervise (pid $sup, log $LOG_DIR/daemon.log)"
  fi
  echo "$sum" >"$RUN_DIR/supervisor.sha256"
}

# Whether a daemon of this install is running (or being kept running).
daemon_managed() {
  if uses_systemd; then systemctl is-active --quiet pier
  else live_pid_from "$RUN_DIR/supervisor.pid" pier-supervise >/dev/null
  fi
}

start_daemon() {
  step "Starting the daemon"
  if ! daemon_managed && healthy; then
    die "something else already answers on port $PIER_API_PORT (http://127.0.0.1:$PIER_API_PORT/healthz); stop it or set another PIER_API_PORT in $ENV_FILE"
  fi
  if uses_systemd; then start_daemon_systemd; else start_daemon_supervised; fi
  wait_healthy
  info "healthy: http://127.0.0.1:$PIER_API_PORT/healthz"
}

# --- 10. next steps -----------------------------------------------------------

next_steps() {
  local host http_suffix=
  host=$(hostname -I 2>/dev/null | awk '{print $1}')
  host=${host:-$(hostname 2>/dev/null || echo localhost)}
  [ "$PIER_HTTP_PORT" = 80 ] || http_suffix=":$PIER_HTTP_PORT"
  step "Pier is installed ($(( $(date +%s) - START_TIME ))s). Next steps:"
  cat <<EOF

       pier apps:create myapp
       git remote add pier http://pier:\$(pier token)@$host:$PIER_API_PORT/myapp.git
       git push pier main
       curl -H 'Host: myapp.$PIER_DOMAIN' http://127.0.0.1$http_suffix/
         or open http://myapp.$PIER_DOMAIN$http_suffix/

       Settings: $ENV_FILE (run ./install.sh again after editing it)
EOF
  if uses_systemd; then
    echo "       Logs:     journalctl -u pier -f"
  else
    echo "       Logs:     $LOG_DIR/daemon.log"
  fi
}

main() {
  check_prerequisites
  install_packages
  install_nginx
  write_settings
  start_docker
  start_redis
  build_pier
  build_stack
  link_pier
  start_daemon
  next_steps
}

main "$@"
