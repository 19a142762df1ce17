# shellcheck shell=bash
# What differs between npm, pnpm, Yarn 1 and Yarn 2+ (berry) once they are
# installed: their settings, and how they install, prune and run scripts.
# Sourced by bin/compile.
#
# Needs: PM (npm, pnpm or yarn), PM_BERRY (true for Yarn 2+), PM_VERSION,
# LOCKFILE (may be empty), NODEJS_CACHE, REGISTRY and the output helpers.

# Settings every later call of the manager (build scripts included) sees.
# Caches live in CACHE_DIR: nothing a manager keeps for itself ends up in the app image.
pm_setup_env() {
  case $PM in
    pnpm)
      # pnpm 11 reads its settings from PNPM_CONFIG_* only, the registry included.
      local prefix=NPM_CONFIG_
      if ((${PM_VERSION%%.*} >= 11)); then
        prefix=PNPM_CONFIG_
        export PNPM_CONFIG_REGISTRY=$REGISTRY
      fi
      # The store is only mounted during the build, so node_modules must hold
      # copies (or reflinks), never links into it.
      export "${prefix}STORE_DIR=$NODEJS_CACHE/pnpm-store"
      export "${prefix}PACKAGE_IMPORT_METHOD=clone-or-copy"
      export "${prefix}CACHE_DIR=$NODEJS_CACHE/pnpm-cache"
      export "${prefix}STATE_DIR=$NODEJS_CACHE/pnpm-state"
      # Without a terminal, pnpm aborts instead of asking to rebuild node_modules.
      export "${prefix}CONFIRM_MODULES_PURGE=false"
      ;;
    yarn)
      if [[ $PM_BERRY == true ]]; then
        pm_setup_berry_env
      else
        export YARN_CACHE_FOLDER=$NODEJS_CACHE/yarn-cache
        export YARN_DISABLE_SELF_UPDATE_CHECK=true
        # Else Yarn 1 creates ~/.yarn/bin, that is /app/.yarn/bin, for global binaries.
        export YARN_PREFIX=$NODEJS_CACHE/yarn-prefix
      fi
      ;;
  esac
}

# Yarn 2+ reads none of npm's settings: registry and CA bundle must be its own.
pm_setup_berry_env() {
  export YARN_NPM_REGISTRY_SERVER=$REGISTRY
  if [[ -n ${SSL_CERT_FILE:-} ]]; then
    # Yarn 4 renamed caFilePath and rejects the old name (and Yarn 2/3 the new one).
    if ((${PM_VERSION%%.*} >= 4)); then
      export YARN_HTTPS_CA_FILE_PATH=$SSL_CERT_FILE
    else
      export YARN_CA_FILE_PATH=$SSL_CERT_FILE
    fi
  fi
  export YARN_CACHE_FOLDER=$NODEJS_CACHE/yarn-berry-cache
  export YARN_ENABLE_GLOBAL_CACHE=false
  export YARN_GLOBAL_FOLDER=$NODEJS_CACHE/yarn-berry-global
  export YARN_ENABLE_TELEMETRY=false
  export YARN_ENABLE_PROGRESS_BARS=false

  # Plug'n'Play (Yarn's default linker) only works when every process starts
  # through `yarn`, which loads .pnp.cjs; `npm start` and `node server.js` do not.
  local linker=${YARN_NODE_LINKER:-}
  if [[ -z $linker && -f .yarnrc.yml ]]; then
    linker=$(sed -n "s/^nodeLinker:[[:space:]]*[\"']\{0,1\}\([A-Za-z-]*\).*/\1/p" .yarnrc.yml | head -n 1)
  fi
  case $linker in
    "")
      export YARN_NODE_LINKER=node-modules
      info "nodeLinker: node-modules (.yarnrc.yml sets none; Pier does not run Plug'n'Play apps)"
      ;;
    pnp)
      error "This app uses Yarn Plug'n'Play (nodeLinker: pnp), which Pier does not support:" \
        "its processes start with plain node (npm start, node server.js), which cannot load" \
        "dependencies from .pnp.cjs. Set \`nodeLinker: node-modules\` in .yarnrc.yml (or remove the" \
        "line), commit and push again."
      ;;
    *) info "nodeLinker: $linker" ;;
  esac
}

# The install command line, devDependencies included, in PM_INSTALL.
pm_install_command() {
  case $PM in
    npm)
      if [[ -n $LOCKFILE ]]; then PM_INSTALL=(npm ci "${NPM_INCLUDE_DEV[@]}"); else PM_INSTALL=(npm install "${NPM_INCLUDE_DEV[@]}"); fi
      ;;
    pnpm)
      # pnpm skips devDependencies when NODE_ENV=production unless told otherwise.
      PM_INSTALL=(pnpm install --prod=false)
      if [[ -n $LOCKFILE ]]; then PM_INSTALL+=(--frozen-lockfile); fi
      ;;
    yarn)
      if [[ $PM_BERRY == true ]]; then
        PM_INSTALL=(yarn install)
        if [[ -n $LOCKFILE ]]; then PM_INSTALL+=(--immutable); fi
      else
        PM_INSTALL=(yarn install --production=false --non-interactive)
        if [[ -n $LOCKFILE ]]; then PM_INSTALL+=(--frozen-lockfile); fi
      fi
      ;;
  esac
}

pm_install() {
  pm_install_command
  if [[ -n $LOCKFILE ]]; then
    info "${PM_INSTALL[*]} ($LOCKFILE)"
  else
    info "${PM_INSTALL[*]} (no lockfile; commit one for reproducible builds)"
  fi
  "${PM_INSTALL[@]}" 2>&1 | indent && return 0
  local failed="${PM_INSTALL[0]} ${PM_INSTALL[1]} failed (see its output above)."
  if [[ -z $LOCKFILE ]]; then
    error "$failed"
  fi
  error "$failed" \
    "If $LOCKFILE is out of sync with package.json, run \`$PM install\` locally with $PM $PM_VERSION," \
    "commit $LOCKFILE and push again."
}

# Removes devDependencies from node_modules; needs no network (the package
# caches of the install are in CACHE_DIR, even when node_modules was restored).
pm_prune() {
  local prune
  case $PM in
    npm)
      if ((${PM_VERSION%%.*} >= 7)); then prune=(npm prune --omit=dev); else prune=(npm prune --production); fi
      ;;
    pnpm) prune=(pnpm prune --prod) ;;
    yarn)
      if [[ $PM_BERRY != true ]]; then
        prune=(yarn install --production --ignore-scripts --prefer-offline --non-interactive)
        if [[ -n $LOCKFILE ]]; then prune+=(--frozen-lockfile); fi
      elif ((${PM_VERSION%%.*} >= 4)) || grep -qs 'plugin-workspace-tools' .yarnrc.yml; then
        prune=(yarn workspaces focus --all --production)
      else
        warn "devDependencies are kept: Yarn $PM_VERSION prunes them only with its workspace-tools plugin." \
          "Add it (yarn plugin import workspace-tools) and commit .yarn/plugins, or move to Yarn 4."
        return 0
      fi
      ;;
  esac
  "${prune[@]}" 2>&1 | indent || error "${prune[*]} failed (see its output above)."
}

# pm_run SCRIPT: runs a package.json script the app has, with the app's manager.
pm_run() {
  local script=$1
  header "Running $script"
  "$PM" run "$script" 2>&1 | indent ||
    error "The $script script failed (see its output above)."
}
