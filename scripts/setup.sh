#!/usr/bin/env bash
# Create .venv with dockyard and everything its tests need, exactly as uv.lock pins them.
# Needs python3 >= 3.11 and access to PyPI; installs uv into .tools/ if it is not on PATH.
# When nothing changed since the last setup (same uv.lock, pyproject.toml and Python), it changes
# nothing: a server, a pipeline or the tests may be using .venv at the same time.
set -euo pipefail
cd "$(dirname "$0")/.."
export UV_PYTHON_DOWNLOADS=never

python=""
for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
        "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        python=$(command -v "$candidate")
        break
    fi
done
[ -n "$python" ] || { echo "dockyard needs Python >= 3.11 (python3.11 or newer on PATH)" >&2; exit 1; }

stamp_file=.venv/.dockyard-setup
stamp=$(cat uv.lock pyproject.toml | "$python" -c \
    'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest(), sys.argv[1])' \
    "$python")
if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ] &&
    .venv/bin/python -c 'import dockyard' >/dev/null 2>&1; then
    exit 0
fi

if command -v uv >/dev/null 2>&1; then
    uv=$(command -v uv)
else
    if [ ! -x .tools/bin/uv ]; then
        "$python" -m venv .tools
        .tools/bin/pip install --quiet --disable-pip-version-check "uv==0.13.9"
    fi
    uv=.tools/bin/uv
fi
"$uv" sync --frozen --all-extras --python "$python" --quiet
echo "$stamp" > "$stamp_file"
