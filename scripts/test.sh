#!/usr/bin/env bash
# The test command (`npm test`, `make test`, CI): install, make sure NATS (JetStream) and Redis
# run and Chromium (the dashboard's browser test) is there where it can be had, typecheck, then
# the whole tap suite: unit tests and integration tests against the real servers. Extra
# arguments go to tap (e.g. a single file).
#   FLYWHEEL_TAP_STATUS  file that receives tap's exit status (used by .ci/run)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/install.sh || exit $?
bash scripts/ensure-services.sh || exit $?
bash scripts/ensure-chromium.sh
npx --no -- tsc -p tsconfig.json --noEmit || { echo "typecheck failed"; exit 1; }
npx --no -- tap "$@"
status=$?
[ -n "${FLYWHEEL_TAP_STATUS:-}" ] && echo "$status" > "$FLYWHEEL_TAP_STATUS"
exit $status
