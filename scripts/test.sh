#!/usr/bin/env bash
# Set up .venv from the lock file, then run the whole test suite (extra arguments go to pytest).
# The tests use the PostgreSQL server at $DOCKYARD_TEST_PG (default 127.0.0.1:5432, user postgres),
# and start their own S3 server (moto) and uvicorn servers on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/pytest "$@"
