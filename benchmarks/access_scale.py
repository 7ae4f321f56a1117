"""The project-role check at the scale of a large team server: 10,000 users, 1,000 teams and
1,000 projects (with 30,000 team memberships and grants), and 100,000 runs in 100 of the
projects. Measured through a running `dockyard server` (a subprocess on loopback):

- what the check adds to a request: the same calls with the server's admin token (passes
  without a lookup: the baseline) and with an API token of an account that reads 10 of the
  run projects through its own grants and its teams'. Its principal is looked up from the
  metadata at most every 2 s (then kept), so the lookup shows in the p99;
- a run search by that account, over every project it may read (10 of the 100; the filter
  and order of benchmarks/tracking.py), beside the admin's search over the same 10 projects
  named explicitly and over all 100.

    .venv/bin/python benchmarks/access_scale.py [--calls 2000] [--db URL]

What it leaves out: TLS, several server workers; PostgreSQL round trips unless --db names one
(the database must be empty). Seeding goes straight into the tables (a minute or two).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import bindparam, insert, select, update

sys.path.insert(0, str(Path(__file__).parent))

from access import ADMIN, _free_port, _percentiles, _wait, timed
from dockyard.core.config import load_settings
from dockyard.services import Services
from dockyard.store.tables import (
    ExperimentRow,
    ProjectGrantRow,
    ProjectRow,
    RunRow,
    TeamMemberRow,
    TeamRow,
    UserRow,
)
from tracking_data import ORDER_BY, QUERY, TOP
from tracking_env import seed_tracking

USERS, TEAMS, PROJECTS, RUN_PROJECTS, RUNS = 10_000, 1_000, 1_000, 100, 100_000
ROLES = ("viewer", "editor", "maintainer", "owner")


def _id(kind: int, n: int) -> str:
    return f"{kind:02d}{n:030d}"


def seed(home: Path, db: str | None) -> list[str]:
    """The runs, then the accounts, teams, projects and grants. Returns the names of the run
    projects that ann reads."""
    seed_tracking(home, db, RUNS, project="p0000")
    services = Services.open(load_settings(home=home, db=db))
    rng = random.Random(11)
    now = dt.datetime.now(dt.UTC)
    try:
        with services.db.write_connection() as conn:
            first = conn.scalar(select(ProjectRow.id).where(ProjectRow.name == "p0000"))
            projects = [first] + [_id(1, n) for n in range(1, PROJECTS)]
            conn.execute(
                insert(ProjectRow.__table__),
                [
                    {"id": projects[n], "name": f"p{n:04d}", "description": ""}
                    | {"created_by": "seed", "created_at": now, "updated_at": now}
                    for n in range(1, PROJECTS)
                ],
            )
            # the runs spread over the first 100 projects, each with its own experiments
            experiments = list(conn.execute(select(ExperimentRow.id, ExperimentRow.name)))
            copies: dict[tuple[int, str], str] = {(0, e): e for e, _ in experiments}
            rows = []
            for p in range(1, RUN_PROJECTS):
                for e, name in experiments:
                    copies[(p, e)] = _id(2, p * 100 + len(rows) % 100)
                    rows.append(
                        {"id": copies[(p, e)], "project_id": projects[p], "name": name}
                        | {"description": "", "created_by": "seed", "created_at": now}
                        | {"deleted_at": None}
                    )
            conn.execute(insert(ExperimentRow.__table__), rows)
            runs = list(conn.execute(select(RunRow.id, RunRow.experiment_id)))
            moves = [
                {
                    "rid": rid,
                    "pid": projects[i % RUN_PROJECTS],
                    "eid": copies[(i % RUN_PROJECTS, e)],
                }
                for i, (rid, e) in enumerate(runs)
                if i % RUN_PROJECTS
            ]
            conn.execute(
                update(RunRow.__table__)
                .where(RunRow.__table__.c.id == bindparam("rid"))
                .values(project_id=bindparam("pid"), experiment_id=bindparam("eid")),
                moves,
            )
            users = [_id(3, n) for n in range(USERS)]
            conn.execute(
                insert(UserRow.__table__),
                [
                    {"id": users[n], "name": f"u{n:05d}", "email": "", "kind": "user"}
                    | {"password_hash": None, "is_admin": n == 0, "disabled": False}
                    | {"created_by": "seed", "created_at": now, "updated_at": now}
                    for n in range(USERS)
                ],
            )
            teams = [_id(4, n) for n in range(TEAMS)]
            conn.execute(
                insert(TeamRow.__table__),
                [
                    {"id": teams[n], "name": f"t{n:04d}", "description": ""}
                    | {"created_by": "seed", "created_at": now}
                    for n in range(TEAMS)
                ],
            )
            ann = users[1]  # the measured account (u00000 is the admin)
            members = {
                (teams[rng.randrange(TEAMS)], u) for u in users if u != ann for _ in range(2)
            }
            members |= {(teams[0], ann), (teams[1], ann)}
            conn.execute(
                insert(TeamMemberRow.__table__),
                [{"team_id": t, "user_id": u} for t, u in members],
            )
            # other people's grants: 3 projects per team and 1 per user, anywhere
            grants = {
                (projects[rng.randrange(PROJECTS)], "team", t): rng.choice(ROLES)
                for t in teams
                for _ in range(3)
            } | {(projects[rng.randrange(PROJECTS)], "user", u): rng.choice(ROLES) for u in users}
            # ann (u00001) reads exactly 10 run projects: 4 by her own grants, 6 by her
            # teams' (t0000, t0001); her teams hold no other grants
            mine = [1, 12, 23, 34, 45, 56, 67, 78, 89, 99]
            grants = {k: v for k, v in grants.items() if k[2] not in (ann, teams[0], teams[1])}
            grants = {k: v for k, v in grants.items() if k[0] not in [projects[p] for p in mine]}
            for p in mine[:4]:
                grants[(projects[p], "user", ann)] = "editor"
            for n, p in enumerate(mine[4:]):
                grants[(projects[p], "team", teams[n % 2])] = "viewer"
            conn.execute(
                insert(ProjectGrantRow.__table__),
                [
                    {"project_id": p, "subject_kind": kind, "subject_id": s, "role": role}
                    | {"granted_by": "seed", "granted_at": now}
                    for (p, kind, s), role in grants.items()
                ],
            )
            if conn.dialect.name == "postgresql":  # as autovacuum would after the moves
                conn.exec_driver_sql("ANALYZE")
    finally:
        services.close()
    return [f"p{n:04d}" for n in mine]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per request and token")
    parser.add_argument("--searches", type=int, default=100, help="timed searches per kind")
    parser.add_argument("--db", default=None, help="an empty metadata database (default: SQLite)")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="dockyard-access-scale-"))
    began = time.perf_counter()
    readable = seed(home, args.db)
    print(f"seeded in {time.perf_counter() - began:.0f} s: {USERS:,} users, {TEAMS:,} teams, "
          f"{PROJECTS:,} projects, {RUNS:,} runs in {RUN_PROJECTS} of them")  # fmt: skip
    env = {**os.environ, "DOCKYARD_HOME": str(home)}
    if args.db:
        env["DOCKYARD_DB"] = args.db
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "dockyard", "--token", ADMIN, "server", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait(url)
        api = url + "/api/v1"
        admin = httpx.Client(base_url=api, headers={"Authorization": f"Bearer {ADMIN}"})
        made = admin.post("/tokens", json={"name": "bench", "user": "u00001"})
        made.raise_for_status()
        ann = httpx.Client(
            base_url=api, headers={"Authorization": f"Bearer {made.json()['token']}"}
        )
        seen = ann.get("/users/me").json()["projects"]
        assert sorted(seen) == readable, seen
        run = ann.post("/runs/search", json={"projects": [readable[0]], "limit": 1}).json()[
            "items"
        ][0]["id"]
        clients = {"admin token (no lookup)": admin, "account token (10 projects)": ann}
        kinds: dict[str, Callable[[httpx.Client, int], Any]] = {
            "runs.get": lambda c, i: c.get(f"/runs/{run}"),
            "metrics.log (1 point)": lambda c, i: c.post(
                f"/runs/{run}/metrics",
                json={"series": {"x": {"steps": [i], "timestamps": [i], "values": [0.5]}}},
            ),
            "projects.list": lambda c, i: c.get("/projects", params={"limit": 100}),
        }
        print(f"\n{args.calls} calls each; p50 / p99 ms; db: {args.db or 'SQLite'}")
        print(f"| request | {' | '.join(clients)} | added p50 / p99 |")
        print(f"|---|{'---:|' * (len(clients) + 1)}")
        for kind, call in kinds.items():
            times = timed(clients, call, args.calls)
            base, acct = (sorted(times[n]) for n in clients)
            p99 = lambda xs: xs[min(len(xs) - 1, int(len(xs) * 0.99))]  # noqa: E731
            added = (
                f"{(acct[len(acct) // 2] - base[len(base) // 2]) * 1000:+.3f} / "
                f"{(p99(acct) - p99(base)) * 1000:+.3f}"
            )
            cells = " | ".join(_percentiles(times[n]) for n in clients)
            print(f"| {kind} | {cells} | {added} |")

        search = {"query": QUERY, "order_by": ORDER_BY, "limit": TOP}
        cases = {
            "account, every project it reads (10)": (ann, search),
            "admin, the same 10 projects named": (admin, search | {"projects": readable}),
            "admin, all 100 run projects": (admin, search),
        }
        print(f"\nrun search ({QUERY!r}, {ORDER_BY}, top {TOP}); {args.searches} calls; ms")
        print("| search | p50 | p90 | runs returned |")
        print("|---|---:|---:|---:|")
        for name, (client, body) in cases.items():
            got: list[int] = []

            def once(
                c: httpx.Client, i: int, body: dict[str, Any] = body, got: list[int] = got
            ) -> Any:
                answer = c.post("/runs/search", json=body)
                got[:] = [len(answer.json()["items"])]
                return answer

            times = timed({name: client}, once, args.searches)[name]
            ordered = sorted(times)
            p90 = ordered[int(len(ordered) * 0.9)]
            p50 = ordered[len(ordered) // 2]
            print(f"| {name} | {p50 * 1000:.1f} | {p90 * 1000:.1f} | {got[0]} |")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
