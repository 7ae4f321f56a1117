#!/usr/bin/env bash
# Set up .venv, start an embedded dockyard server on a throwaway home, and talk to it
# through the same CLI and SDK a user would, then over plain HTTP.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

home=$(mktemp -d)
port=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
DOCKYARD_HOME="$home" dockyard server --port "$port" >"$home/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    python -c "import httpx,sys; httpx.get('$url/api/v1/health')" 2>/dev/null && break
    sleep 0.2
done

export DOCKYARD_URL="$url"
echo "== dockyard server on $url (home $home); API docs at $url/docs"
echo "== dockyard config show"
dockyard config show
echo "== dockyard projects create fraud / churn"
dockyard projects create fraud --description "card fraud detection"
dockyard projects create churn
echo "== dockyard projects rename churn churn-2026"
dockyard projects rename churn churn-2026
echo "== dockyard projects list"
dockyard projects list
echo "== the same through the Python SDK, and a blob up and down"
python - <<'PY'
import dockyard as dy

with dy.connect() as client:  # DOCKYARD_URL is set: this talks to the server
    print(client)
    print("projects:", [p.name for p in client.projects.list()])
    info = client.blobs.put(b"hello, dockyard")
    print(f"stored blob sha256:{info.digest} ({info.size} bytes)")
    print("read back:", client.blobs.get(info.digest))
    try:
        client.projects.create("fraud")
    except dy.Conflict as exc:
        print("a duplicate name is refused:", exc)

    for lr in (0.3, 0.1, 0.03):  # three tracked runs, metrics batched in the background
        with dy.start_run("fraud", experiment="baseline", params={"lr": lr}, client=client) as run:
            for step in range(200):
                run.log_metrics({"loss": 1 / (1 + lr * step), "auc": 0.9 - 0.5 / (1 + lr * step)},
                                step=step)
    best = client.runs.search("metrics.auc > 0.8", order_by="metrics.auc DESC").items
    print("runs with auc > 0.8, best first:",
          [(r.params["lr"], round(r.metrics["auc"].last, 4)) for r in best])
    print(client.runs.compare([r.id for r in best]).filter(like="params").to_string())
PY
echo "== dockyard runs list"
dockyard runs list --project fraud
echo "== raw REST: GET $url/api/v1/projects"
python -c "import httpx, json; print(json.dumps(httpx.get('$url/api/v1/projects').json(), indent=2))"
echo "== done; the server stops now"
