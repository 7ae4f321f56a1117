#!/usr/bin/env bash
# Set up .venv, then run the end-to-end fraud demo embedded (no server): synthetic card
# transactions are versioned as a dataset, and a pipeline builds features, trains, evaluates,
# registers, promotes and batch-scores a model. The records go to a fresh temporary
# DOCKYARD_HOME unless DOCKYARD_HOME is set; run it again there to see every step reused.
# Options go to `dockyard demo`, e.g. ./scripts/demo.sh --size 50000 --seed 1.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export DOCKYARD_HOME="${DOCKYARD_HOME:-$(mktemp -d -t dockyard-demo-XXXXXX)}"
.venv/bin/dockyard demo "$@"
echo
echo "(the dockyard command is in .venv/bin: 'source .venv/bin/activate' first; run the demo"
echo " again with DOCKYARD_HOME=$DOCKYARD_HOME ./scripts/demo.sh to see every step reused)"
