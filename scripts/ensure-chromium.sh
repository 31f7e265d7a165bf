#!/usr/bin/env bash
# Headless Chromium for the browser test of the dashboard: Debian's package, installed when it
# is missing and this user may install packages (root, or sudo without a password). Never fails
# the caller: without Chromium the browser test skips and says why.
set -uo pipefail
CHROMIUM="${FLYWHEEL_CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] && exit 0
command -v apt-get >/dev/null 2>&1 || { echo "chromium: not installed and no apt-get here; the browser test will skip"; exit 0; }
if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
  echo "chromium: not installed and this user cannot install packages; the browser test will skip"; exit 0
fi
echo "chromium: installing Debian's chromium for the browser test (once, about a minute)"
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -q --no-install-recommends chromium >/tmp/flywheel-chromium-install.log 2>&1; then
  # A fresh machine may not have read its package lists yet.
  $SUDO apt-get update -q >>/tmp/flywheel-chromium-install.log 2>&1
  $SUDO apt-get install -y -q --no-install-recommends chromium >>/tmp/flywheel-chromium-install.log 2>&1 \
    || echo "chromium: install failed (see /tmp/flywheel-chromium-install.log); the browser test will skip"
fi
exit 0
