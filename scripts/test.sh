#!/usr/bin/env bash
# Set up, then run the whole test suite: the Python tests (pytest), then the web UI's unit tests
# (Vitest) and its end-to-end tests (headless Chromium against a real, seeded dockyard server).
# Arguments go to pytest, and then only pytest runs.
# The tests use the PostgreSQL server at $DOCKYARD_TEST_PG (default 127.0.0.1:5432, user postgres),
# and start their own S3 server (moto) and uvicorn servers on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/setup-torch.sh
scripts/setup-ui.sh  # the single sign-on tests start a real OpenID provider from ui/node_modules
if [ "$#" -gt 0 ]; then
    exec .venv/bin/pytest "$@"
fi
scripts/setup-ui.sh --browser
.venv/bin/pytest
cd ui
npm run --silent typecheck
npm test
npm run e2e
