#!/usr/bin/env bash
# Build the web UI from ui/ into src/dockyard/server/ui (shipped in the Python package), after
# regenerating its API types from the server's OpenAPI document. Needs .venv (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-ui.sh
cd ui
npm run --silent api-types >/dev/null
npm run --silent build >/dev/null
echo "built the UI into src/dockyard/server/ui"
