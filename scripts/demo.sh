#!/usr/bin/env bash
# The demo (`npm run demo`, `make demo`): install when needed, then `flywheel demo` with any
# arguments given (e.g. --events 50000). The demo starts NATS and Redis itself when they are
# not running, or falls back to the embedded mode where they cannot be had.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/install.sh
exec node --import tsx cli/main.ts demo "$@"
