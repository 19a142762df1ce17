# shellcheck shell=bash disable=SC2034 # variables here are read by bin/compile
# Defaults of the Node.js buildpack. Sourced by bin/compile.

# The Node.js major an app gets when its package.json has no engines.node:
# the newest published release of this major (resolved as the range "22.x").
# This is the ONLY place the default lives; change it here (and in README.md).
DEFAULT_NODE_MAJOR=22

# Without engines.npm, an app gets the newest npm that supports its node and
# satisfies this range. npm 12 refuses dependencies' install scripts unless the
# app allows them, which breaks common packages (esbuild, sharp, bcrypt), so the
# default stays below it; engines.npm opts in.
DEFAULT_NPM_CEILING='<12'

# How long registry metadata kept in CACHE_DIR is reused without refetching,
# in seconds. A version range that matches nothing in a cached copy always
# triggers a refetch, so a release published a minute ago is still found.
METADATA_MAX_AGE=600

# The tool Node of the stack image: runs the buildpack's own JS (version
# resolution), never the app or the app's npm.
PIER_TOOL_NODE=${PIER_TOOL_NODE:-/opt/pier/node/bin/node}

# Bumped when the layout of the node_modules cache or the install flags change,
# so older cached copies are not restored.
MODULES_CACHE_FORMAT=1
