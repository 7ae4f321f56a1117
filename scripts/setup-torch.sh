#!/usr/bin/env bash
# Install PyTorch into .venv for the torch flavor's tests, where a build of it can be had cheaply.
# PyPI's Linux x86-64 torch is a CUDA build that pulls ~3 GB, so by default torch comes only from
# a wheel pip finds without an index (its configured find-links, e.g. a CPU wheel kept on the
# machine); DOCKYARD_TEST_TORCH=pypi takes it from PyPI instead (small and CPU-only on macOS and
# Linux aarch64). Without torch, the torch flavor's tests are skipped and say why.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -c 'import importlib.util as u, sys; sys.exit(u.find_spec("torch") is None)' && exit 0
uv=$(command -v uv || echo .tools/bin/uv)

if [ "${DOCKYARD_TEST_TORCH:-}" = "pypi" ]; then
    "$uv" pip install --python .venv/bin/python --quiet torch
    exit 0
fi

python=$(.venv/bin/python -c 'import sys; print(sys._base_executable)')
wheels=$(mktemp -d)
trap 'rm -rf "$wheels"' EXIT
if "$python" -m pip download --quiet --disable-pip-version-check --no-deps --no-index \
    --only-binary=:all: --dest "$wheels" torch >/dev/null 2>&1; then
    "$uv" pip install --python .venv/bin/python --quiet "$wheels"/torch-*.whl
    echo "installed $(basename "$wheels"/torch-*.whl) for the torch flavor's tests"
else
    echo "torch is not installed: the torch flavor's tests will be skipped" \
        "(DOCKYARD_TEST_TORCH=pypi installs it from PyPI)"
fi
