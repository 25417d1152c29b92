#!/bin/sh
# Prepares the browser tests: Debian's Chromium (apt) and axe-core (npm) in the git-ignored .cache/axe-core.
# Idempotent: when both are there it only checks and returns at once. apt waits up to 10 minutes for
# another apt run (a second checkout preparing at the same time) instead of failing on its lock.
set -eu
cd "$(dirname "$0")/../.."
if ! [ -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium
fi
AXE=.cache/axe-core/node_modules/axe-core/axe.min.js
if ! [ -f "$AXE" ]; then
    mkdir -p .cache/axe-core
    npm install --prefix .cache/axe-core --no-audit --no-fund --silent axe-core@4
fi
/usr/bin/chromium --version
echo "axe-core $(node -p "require('./.cache/axe-core/node_modules/axe-core/package.json').version")"
