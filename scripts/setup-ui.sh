#!/usr/bin/env bash
# Install what the web UI's build and tests need: its npm packages (exactly as ui/package-lock.json
# pins them) and, for the end-to-end tests, Debian's Chromium (playwright-core drives it).
# Needs Node.js >= 20.19 with npm; Chromium is installed with apt-get when run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v node >/dev/null 2>&1 || { echo "the UI needs Node.js >= 20.19 and npm on PATH" >&2; exit 1; }
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' ||
    { echo "the UI needs Node.js >= 20.19 (found $(node --version))" >&2; exit 1; }

lock_hash=$(sha256sum ui/package-lock.json | cut -d' ' -f1)
if [ ! -f ui/node_modules/.lock-hash ] || [ "$(cat ui/node_modules/.lock-hash)" != "$lock_hash" ]; then
    (cd ui && npm ci --no-audit --no-fund --loglevel=error)
    echo "$lock_hash" > ui/node_modules/.lock-hash
fi

if [ "${1:-}" = "--browser" ] && [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing Debian's chromium for the UI's end-to-end tests"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "the UI's end-to-end tests need Chromium: install Debian's 'chromium' package" \
            "(or set CHROMIUM to a Chromium binary)" >&2
        exit 1
    fi
fi
