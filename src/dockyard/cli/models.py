"""``dockyard models ...``: the registry: list, show, register, alias (with gates), rollback,
history, traffic splits, freeze and unfreeze (the Andon cord), download and model cards."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from dockyard.cli import ids
from dockyard.cli.context import overrides
from dockyard.cli.options import JSON, PROJECT_FILTER, RUN_ID, YES
from dockyard.cli.output import Column, dump_json, plural, say, table

if TYPE_CHECKING:
    from dockyard.client.client import Client
    from dockyard.registry.schemas import Alias, AliasMove, ModelVersion, RegisteredModel

app = typer.Typer(
    help="The model registry: list, show, register, alias, rollback, history, traffic, freeze, "
    "download, card.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
REF_HELP = "NAME, NAME/VERSION, NAME@ALIAS or a models:/ URI"
_GATE = re.compile(r"^\s*([^<>=\s]+)\s*(>=|<=|>|<)\s*([-+0-9.eE]+)\s*$")
REASON_HELP = "Why (recorded in the history)."


def _uri(ref: str) -> str:
    return ref if ref.startswith(("models:/", "runs:/")) else f"models:/{ref}"


def _run_uri(client: Client, uri: str) -> str:
    """``runs:/<run id or a unique start of one>/<path>`` with the run's whole id."""
    if not uri.startswith("runs:/"):
        return uri
    run, sep, path = uri.removeprefix("runs:/").partition("/")
    return f"runs:/{ids.run_id(client, run)}{sep}{path}"


def _version(client: Client, ref: str) -> ModelVersion:
    from dockyard.registry.uris import RegistryRef, parse_model_uri

    parsed = parse_model_uri(_uri(ref))
    if not isinstance(parsed, RegistryRef):
        raise typer.BadParameter(f"{ref!r}: give a registered model ({REF_HELP})")
    return client.models.version(parsed.name, parsed.ref)


def _versions_table(versions: list[ModelVersion]) -> None:
    table(
        None,
        [
            Column("version", keep=True, justify="right"),
            "flavor",
            "aliases",
            Column("run", keep=True, drop=4),
            Column("created (UTC)", drop=2),
            Column("by", drop=3),
            Column("description", drop=5),
        ],
        [
            (
                v.version,
                v.flavor,
                ", ".join(v.aliases),
                v.run_id or "",
                f"{v.created_at:%Y-%m-%d %H:%M}",
                v.created_by,
                v.description[:50],
            )
            for v in versions
        ],
    )


def _say_alias(alias: Alias) -> None:
    target = f"v{alias.version}" if alias.version is not None else "nothing"
    say(f"{alias.model}@{alias.alias} -> {target}")


@app.command("list")
def list_(
    ctx: typer.Context,
    project: str | None = PROJECT_FILTER,
    name: str | None = typer.Option(None, "--name", help="Names containing this."),
    tag: str | None = typer.Option(None, "--tag", help="Only models with tag KEY=VALUE."),
    as_json: bool = JSON,
) -> None:
    """List registered models."""
    found = []
    with overrides(ctx).client() as client:
        cursor = None
        while True:
            page = client.models.list(project=project, name=name, tag=tag, cursor=cursor)
            found.extend(page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    if as_json:
        dump_json(found)
        return
    filters = [
        f"{what} {value!r}"
        for what, value in (("project", project), ("name containing", name), ("tag", tag))
        if value
    ]
    table(
        None,
        [
            Column("model", keep=True),
            Column("project", drop=2),
            Column("latest", justify="right"),
            "aliases",
            Column("updated (UTC)", drop=1),
        ],
        [
            (
                m.name,
                m.project,
                m.latest_version or "",
                ", ".join(f"{a}→v{v}" for a, v in m.aliases.items() if v is not None),
                f"{m.updated_at:%Y-%m-%d %H:%M}",
            )
            for m in found
        ],
        empty=("no models match " + ", ".join(filters)) if filters else "no models registered yet",
    )


@app.command()
def show(
    ctx: typer.Context, ref: str = typer.Argument(..., help=REF_HELP), as_json: bool = JSON
) -> None:
    """Show a model and its versions, or one version (NAME/3, NAME@champion)."""
    from dockyard.registry.uris import RegistryRef, parse_model_uri

    parsed = parse_model_uri(_uri(ref))
    if not isinstance(parsed, RegistryRef):
        raise typer.BadParameter(f"{ref!r}: give a registered model ({REF_HELP})")
    whole_model = "/" not in _uri(ref).removeprefix("models:/") and "@" not in ref
    with overrides(ctx).client() as client:
        if whole_model:
            model = client.models.get(parsed.name)
            versions = client.models.versions(parsed.name, limit=1000).items
            if as_json:
                dump_json({"model": model, "versions": versions})
                return
            say(f"[bold]{model.name}[/] in {model.project}, made by {model.created_by}")
            if model.description:
                say(model.description)
            for key, value in model.tags.items():
                say(f"  tag {key} = {value}")
            _say_serving(model)
            _versions_table(versions)
            return
        version = client.models.version(parsed.name, parsed.ref)
    if as_json:
        dump_json(version)
        return
    m = version.manifest
    say(
        f"[bold]{version.uri}[/] ({version.flavor}, {m.framework} {m.framework_version})\n"
        f"from {version.source}, registered by {version.created_by} at "
        f"{version.created_at:%Y-%m-%d %H:%M} UTC\n"
        f"aliases: {', '.join(version.aliases) or 'none'}\n"
        f"manifest sha256:{version.manifest_digest}"
        + ("\nloading runs pickled code: needs trusted=True" if m.needs_trust else "")
    )
    if m.signature is not None:
        table(
            "signature",
            ["direction", "column", "type"],
            [("input", c.name, c.type) for c in m.signature.inputs]
            + [("output", c.name, c.type) for c in m.signature.outputs],
        )


@app.command()
def register(
    ctx: typer.Context,
    run_id: str = RUN_ID,
    name: str = typer.Option(..., "--name", help="The registered model's name."),
    path: str = typer.Option("model", "--path", help="The model's artifact folder in the run."),
    description: str = typer.Option("", "--description", help="What this version is."),
    as_json: bool = JSON,
) -> None:
    """Register a model logged in a run as the next version of NAME."""
    with overrides(ctx).client() as client:
        version = client.models.register(
            ids.run_id(client, run_id), path, name, description=description
        )
    if as_json:
        dump_json(version)
    else:
        say(f"registered {version.uri} ({version.flavor}) from {version.source}")


@app.command()
def alias(
    ctx: typer.Context,
    name: str,
    alias: str,
    version: int = typer.Argument(..., help="The version the alias should point at."),
    reason: str = typer.Option("", "--reason", "-r", help=REASON_HELP),
    force: bool = typer.Option(
        False, "--force", help="Override failed gates (if you may; needs --reason)."
    ),
    as_json: bool = JSON,
) -> None:
    """Point ALIAS of model NAME at VERSION, if it passes the alias's gates."""
    with overrides(ctx).client() as client:
        moved = client.models.set_alias(name, alias, version, reason=reason, force=force)
    if as_json:
        dump_json(moved)
    else:
        _say_alias(moved)


def _parse_gate(text: str) -> tuple[str, str, float]:
    match = _GATE.match(text)
    if not match:
        raise typer.BadParameter(f"{text!r}: write a gate as METRIC OP NUMBER, e.g. 'auc>=0.9'")
    try:
        return match.group(1), match.group(2), float(match.group(3))
    except ValueError:
        raise typer.BadParameter(f"{text!r}: {match.group(3)!r} is not a number") from None


@app.command()
def policy(
    ctx: typer.Context,
    name: str,
    alias: str,
    gate: list[str] = typer.Option(
        [], "--gate", "-g", help="METRIC OP NUMBER, e.g. 'auc>=0.9' (repeatable)."
    ),
    dataset: str | None = typer.Option(
        None, "--dataset", "-d", help="Count only evaluations over this dataset."
    ),
    min_dataset_version: int | None = typer.Option(
        None, "--min-dataset-version", help="... at this version or newer."
    ),
    not_worse: bool = typer.Option(
        False, "--not-worse", help="Also require no worse than the current version."
    ),
    override_by: list[str] = typer.Option(
        [], "--override-by", help="A user who may override (repeatable; default: admins only)."
    ),
    clear: bool = typer.Option(False, "--clear", help="Remove the alias's policy."),
    as_json: bool = JSON,
) -> None:
    """Set the gates a version must pass to get ALIAS."""
    if clear and gate:
        raise typer.BadParameter("--clear removes the policy; give no --gate with it")
    if not clear and not gate:
        raise typer.BadParameter("give at least one --gate (or --clear)")
    body: dict[str, Any] | None = None
    if not clear:
        gates = []
        for text in gate:
            metric, op, threshold = _parse_gate(text)
            gates.append(
                {
                    "metric": metric,
                    "op": op,
                    "threshold": threshold,
                    "dataset": dataset,
                    "min_dataset_version": min_dataset_version,
                    "not_worse_than_current": not_worse,
                }
            )
        body = {"gates": gates, "override_by": override_by}
    with overrides(ctx).client() as client:
        result = client.models.set_policy(name, alias, body)
    if as_json:
        dump_json(result)
    elif result.policy is None:
        say(f"{name}@{alias}: no gates")
    else:
        for g in result.policy.gates:
            say(f"{name}@{alias} requires {g.describe()}")


@app.command()
def check(ctx: typer.Context, name: str, alias: str, version: int, as_json: bool = JSON) -> None:
    """Would VERSION pass the gates of ALIAS now? Exit 4 if not."""
    with overrides(ctx).client() as client:
        report = client.models.check(name, alias, version)
    if as_json:
        dump_json(report)
    else:
        for c in report.checks:
            say(f"{'[green]ok[/]' if c.passed else '[red]FAILED[/]'} {c.gate}: {c.message}")
        if not report.checks:
            say(f"{name}@{alias} has no gates")
    if not report.passed:
        raise typer.Exit(4)


@app.command()
def rollback(
    ctx: typer.Context,
    name: str,
    alias: str,
    reason: str = typer.Option("", "--reason", "-r", help=REASON_HELP),
    as_json: bool = JSON,
) -> None:
    """Point ALIAS back at the version it had before its last move."""
    with overrides(ctx).client() as client:
        moved = client.models.rollback(name, alias, reason=reason)
    if as_json:
        dump_json(moved)
    else:
        _say_alias(moved)


def _event_detail(move: AliasMove) -> str:
    """The gate verdict of a move, or what a model-wide event set."""
    from dockyard.registry.schemas import Freeze, Traffic

    if move.gate is not None:
        return "gates passed" if move.gate.passed else "gates FAILED"
    if move.action == "traffic":
        return move.detail.describe() if isinstance(move.detail, Traffic) else "cleared"
    if move.action == "unfreeze" and isinstance(move.detail, Freeze):
        return f"lifted the freeze of {move.detail.by}"
    return ""


@app.command()
def history(
    ctx: typer.Context,
    name: str,
    alias: str | None = typer.Argument(
        None, help="Only this alias's moves (default: every event of the model)."
    ),
    as_json: bool = JSON,
) -> None:
    """Every event of model NAME (alias moves, traffic, freezes), or every move of ALIAS,
    newest first: who, when, from which version to which, why."""
    with overrides(ctx).client() as client:
        moves = client.models.history(name, alias)
    if as_json:
        dump_json(moves)
        return
    if alias is not None:
        table(
            f"{name}@{alias}",
            ["when (UTC)", "from", "to", "action", "by", "reason", "gates"],
            [
                (
                    f"{m.at:%Y-%m-%d %H:%M:%S}",
                    f"v{m.from_version}" if m.from_version else "-",
                    f"v{m.to_version}" if m.to_version else "-",
                    m.action + (" (rolled back)" if m.rolled_back else ""),
                    m.actor,
                    m.reason,
                    "" if m.gate is None else ("passed" if m.gate.passed else "FAILED"),
                )
                for m in moves
            ],
        )
        return
    table(
        name,
        ["when (UTC)", "alias", "from", "to", "action", "by", "reason", Column("detail", drop=1)],
        [
            (
                f"{m.at:%Y-%m-%d %H:%M:%S}",
                f"@{m.alias}" if m.alias else "(model)",
                f"v{m.from_version}" if m.from_version else "-",
                f"v{m.to_version}" if m.to_version else "-",
                m.action + (" (rolled back)" if m.rolled_back else ""),
                m.actor,
                m.reason,
                _event_detail(m),
            )
            for m in moves
        ],
        empty=f"{name} has no history yet",
    )


def _say_serving(model: RegisteredModel) -> None:
    """The model's traffic split and, when it is frozen, a banner saying who, when, why."""
    from rich.markup import escape

    if model.frozen is not None:
        f = model.frozen
        say(
            f"[bold white on red] FROZEN [/] by {escape(f.by)} at {f.at:%Y-%m-%d %H:%M} UTC: "
            f"{escape(f.reason)}\n  no alias moves and the traffic stays until "
            f"`dockyard models unfreeze {escape(model.name)}`"
        )
    if model.traffic is not None:
        t = model.traffic
        why = f" ({escape(t.reason)})" if t.reason else ""
        say(
            f"traffic: {escape(t.describe())}{why}, set by {escape(t.set_by)} at "
            f"{t.set_at:%Y-%m-%d %H:%M} UTC"
        )


def _parse_weights(items: list[str]) -> dict[str, int]:
    weights: dict[str, int] = {}
    for item in items:
        alias, sep, percent = item.partition("=")
        if not sep or not alias or not percent.strip().lstrip("-").isdigit():
            raise typer.BadParameter(
                f"{item!r}: write each weight as ALIAS=PERCENT, e.g. champion=90 challenger=10"
            )
        if alias in weights:
            raise typer.BadParameter(f"alias {alias!r} is given twice")
        weights[alias] = int(percent)
    return weights


@app.command()
def traffic(
    ctx: typer.Context,
    name: str,
    weights: list[str] | None = typer.Argument(
        None, help="ALIAS=PERCENT for each alias that answers, adding up to 100."
    ),
    shadow: list[str] = typer.Option(
        [], "--shadow", help="An alias that gets a copy of each request (repeatable)."
    ),
    sticky: str | None = typer.Option(
        None, "--sticky", help="A request field whose value picks the alias (A/B tests)."
    ),
    clear: bool = typer.Option(False, "--clear", help="Remove the traffic split."),
    reason: str = typer.Option("", "--reason", "-r", help=REASON_HELP),
    as_json: bool = JSON,
) -> None:
    """Split the requests servers get for NAME between its aliases: champion=90
    challenger=10 (with no weights: show the split)."""
    if clear and (weights or shadow or sticky):
        raise typer.BadParameter("--clear removes the split; give no weights with it")
    if not weights and (shadow or sticky):
        raise typer.BadParameter("give the weights too, e.g. champion=100 --shadow challenger")
    parsed = _parse_weights(weights or [])
    with overrides(ctx).client() as client:
        if clear:
            client.models.clear_traffic(name, reason=reason)
            split = None
        elif parsed:
            split = client.models.set_traffic(
                name, parsed, shadow=shadow, sticky=sticky, reason=reason
            )
        else:
            split = client.models.get(name).traffic
    if as_json:
        dump_json(split)
    elif clear:
        say(f"cleared the traffic split of {name}")
    elif split is None:
        say(f"{name} has no traffic split: each server answers with the alias it serves")
    else:
        say(f"{name} traffic: {split.describe()}")


@app.command()
def freeze(
    ctx: typer.Context,
    name: str,
    reason: str = typer.Option(
        ..., "--reason", "-r", help="Why: shown to everyone whose move is refused."
    ),
    as_json: bool = JSON,
) -> None:
    """Pull the Andon cord: no alias of NAME moves and its traffic stays until unfrozen."""
    with overrides(ctx).client() as client:
        made = client.models.freeze(name, reason=reason)
    if as_json:
        dump_json(made)
    else:
        say(f"froze {name}: no alias moves until `dockyard models unfreeze {name}`")


@app.command()
def unfreeze(
    ctx: typer.Context,
    name: str,
    reason: str = typer.Option("", "--reason", "-r", help=REASON_HELP),
) -> None:
    """Let the aliases and traffic of NAME change again."""
    with overrides(ctx).client() as client:
        client.models.unfreeze(name, reason=reason)
    say(f"unfroze {name}")


@app.command()
def download(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help=f"{REF_HELP}, or runs:/<run id>/<path>"),
    dest: Path = typer.Option(..., "--dest", "-o", help="A new folder to write the model into."),
    as_json: bool = JSON,
) -> None:
    """Download a model's folder (every file verified against its sha256)."""
    if dest.exists() and any(dest.iterdir()):
        raise typer.BadParameter(f"{dest} is not empty; give a new folder")
    if dest.exists():
        dest.rmdir()
    with overrides(ctx).client() as client:
        uri = _run_uri(client, _uri(ref))
        folder = client.models.download(uri, dest)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    if as_json:
        dump_json({"folder": str(folder), "files": files})
    else:
        say(f"{uri} -> {folder} ({plural(len(files), 'file')})")


@app.command()
def card(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help=REF_HELP),
    html: bool = typer.Option(False, "--html", help="HTML instead of Markdown."),
    output: Path | None = typer.Option(None, "--dest", "-o", help="Write to this file."),
    as_json: bool = JSON,
) -> None:
    """The model card of a version: run, params, metrics, data, code, environment."""
    with overrides(ctx).client() as client:
        version = _version(client, ref)
        found = client.models.card(version.model, version.version)
    if as_json:
        dump_json(found)
        return
    text = found.html if html else found.markdown
    if output is not None:
        output.write_text(text, encoding="utf-8")
        say(f"wrote {output}")
    else:
        typer.echo(text)


@app.command()
def delete(
    ctx: typer.Context,
    name: str,
    version: int | None = typer.Option(None, "--version", help="Only this version."),
    yes: bool = YES,
) -> None:
    """Delete a model (or one version); `dockyard gc` then frees their files."""
    what = f"{name} v{version}" if version is not None else f"model {name} and all its versions"
    if not yes:
        typer.confirm(f"delete {what}?", abort=True)
    with overrides(ctx).client() as client:
        if version is None:
            client.models.delete(name)
        else:
            client.models.delete_version(name, version)
    say(f"deleted {what}")
