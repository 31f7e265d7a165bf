#!/usr/bin/env bash
# Installs the project's packages when node_modules is missing or older than package-lock.json,
# then rebuilds tap's Test class once (tap 21 needs `tap build` after each install for the
# plugin list in package.json). Quiet when there is nothing to do.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "install: npm ci (the optional tfjs-node packages fail to download without internet; that is expected)"
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
if [ ! -f node_modules/.flywheel-tap-build ] || [ package.json -nt node_modules/.flywheel-tap-build ]; then
  npx --no -- tap build >/dev/null
  touch node_modules/.flywheel-tap-build
fi
