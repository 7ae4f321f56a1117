"""A model card generated from a version's lineage, in Markdown and in HTML.

Both are rendered from the same sections (a title, an optional paragraph and a table), so
they always say the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

from dockyard.registry.schemas import ModelCard, ModelLineage

_MAX_PACKAGES = 400


@dataclass
class Section:
    title: str
    text: str = ""
    header: tuple[str, ...] = ()
    rows: Sequence[tuple[str, ...]] = field(default_factory=list)


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def sections(lineage: ModelLineage) -> list[Section]:
    v = lineage.version
    m = v.manifest
    found = [
        Section(
            "Model",
            v.description,
            ("field", "value"),
            [
                ("name", v.model),
                ("version", str(v.version)),
                ("uri", v.uri),
                ("aliases", ", ".join(v.aliases) or "none"),
                ("flavor", v.flavor),
                ("framework", f"{m.framework} {m.framework_version}".strip()),
                ("registered", f"{v.created_at:%Y-%m-%d %H:%M} UTC by {v.created_by}"),
                ("source", v.source),
                ("manifest sha256", v.manifest_digest),
                ("files", f"{len(m.files)} ({sum(f.size for f in m.files):,} bytes)"),
                (
                    "loading runs pickled code",
                    "yes (trusted=True needed)" if m.needs_trust else "no",
                ),
            ],
        )
    ]
    if m.signature is not None:
        found.append(
            Section(
                "Signature",
                "Inputs are checked against this before every prediction.",
                ("direction", "column", "type", "nullable"),
                [
                    ("input", c.name, c.type, "yes" if c.nullable else "no")
                    for c in m.signature.inputs
                ]
                + [
                    ("output", c.name, c.type, "yes" if c.nullable else "no")
                    for c in m.signature.outputs
                ],
            )
        )
    run = lineage.run
    if run is None:
        found.append(Section("Training run", "The run that made this version was purged."))
    else:
        found.append(
            Section(
                "Training run",
                "",
                ("field", "value"),
                [
                    ("run", f"{run.name} ({run.id})"),
                    ("project / experiment", f"{run.project} / {run.experiment}"),
                    ("status", run.status),
                    ("user", run.user),
                    ("started", f"{run.start_time:%Y-%m-%d %H:%M:%S} UTC"),
                    ("ended", f"{run.end_time:%Y-%m-%d %H:%M:%S} UTC" if run.end_time else "-"),
                ],
            )
        )
        if run.params:
            found.append(Section("Parameters", "", ("param", "value"), sorted(run.params.items())))
        if run.metrics:
            found.append(
                Section(
                    "Metrics",
                    "Last value of each metric of the training run.",
                    ("metric", "last", "min", "max", "step"),
                    [
                        (k, _fmt(s.last), _fmt(s.min), _fmt(s.max), str(s.step))
                        for k, s in sorted(run.metrics.items())
                    ],
                )
            )
    data_rows = [
        (f"{d.project}/{d.dataset}", f"v{d.version}", f"{d.rows:,}", d.status, d.digest[:12])
        for d in lineage.inputs
    ]
    found.append(
        Section(
            "Training data",
            "" if data_rows else "The run recorded no dataset version as its input.",
            ("dataset", "version", "rows", "validation", "sha256"),
            data_rows,
        )
    )
    if lineage.evaluations:
        keys = sorted({k for r in lineage.evaluations for k in r.metrics})[:8]
        found.append(
            Section(
                "Evaluations",
                "Runs that loaded this version.",
                ("run", "started", *keys),
                [
                    (
                        f"{r.name} ({r.id})",
                        f"{r.start_time:%Y-%m-%d %H:%M}",
                        *(_fmt(r.metrics[k].last) if k in r.metrics else "-" for k in keys),
                    )
                    for r in lineage.evaluations
                ],
            )
        )
    code = lineage.code
    found.append(
        Section(
            "Code",
            "" if code.commit else "No git commit was captured for the run.",
            ("field", "value"),
            [
                (k, v)
                for k, v in (
                    ("commit", code.commit),
                    ("branch", code.branch),
                    ("remote", code.remote),
                    (
                        "uncommitted changes",
                        None if code.dirty is None else str(code.dirty).lower(),
                    ),
                    ("diff", f"run artifact {code.diff_artifact}" if code.diff_artifact else None),
                    ("entry point", code.entry_point),
                    (
                        "captured by",
                        f"pipeline run {code.run_id}"
                        if code.run_id and lineage.run and code.run_id != lineage.run.id
                        else None,
                    ),
                )
                if v
            ],
        )
    )
    env = lineage.environment
    found.append(
        Section(
            "Environment",
            f"Python {env.python or m.python_version or '?'}"
            + (f" on {env.host}" if env.host else "")
            + (
                f"; {len(env.packages)} packages installed in the training run"
                if env.packages
                else ""
            ),
            ("needed to load the model",),
            [(r,) for r in env.requirements],
        )
    )
    if env.packages:
        shown = env.packages[:_MAX_PACKAGES]
        more = len(env.packages) - len(shown)
        found.append(
            Section(
                "Training packages",
                f"{more} more not shown." if more > 0 else "",
                ("package",),
                [(p,) for p in shown],
            )
        )
    if lineage.alias_history:
        found.append(
            Section(
                "Alias history",
                "Moves of aliases to or from this version, newest first.",
                ("when", "alias", "move", "action", "by", "reason"),
                [
                    (
                        f"{mv.at:%Y-%m-%d %H:%M}",
                        mv.alias,
                        f"{_version_label(mv.from_version)} → {_version_label(mv.to_version)}",
                        mv.action,
                        mv.actor,
                        mv.reason,
                    )
                    for mv in lineage.alias_history
                ],
            )
        )
    return found


def _md_cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def to_markdown(title: str, parts: list[Section]) -> str:
    lines = [f"# {title}", ""]
    for s in parts:
        lines += [f"## {s.title}", ""]
        if s.text:
            lines += [s.text, ""]
        if s.rows:
            lines.append("| " + " | ".join(s.header) + " |")
            lines.append("|" + "---|" * len(s.header))
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in s.rows]
            lines.append("")
    return "\n".join(lines)


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#1f2328}"
    "table{border-collapse:collapse;margin:.5rem 0 1.5rem}"
    "td,th{border:1px solid #d0d7de;padding:.25rem .6rem;text-align:left;font-size:.9rem;"
    "overflow-wrap:anywhere}"
    "th{background:#f6f8fa}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2rem}"
)


def to_html(title: str, parts: list[Section]) -> str:
    body = [f"<h1>{escape(title)}</h1>"]
    for s in parts:
        body.append(f"<h2>{escape(s.title)}</h2>")
        if s.text:
            body.append(f"<p>{escape(s.text)}</p>")
        if s.rows:
            head = "".join(f"<th>{escape(h)}</th>" for h in s.header)
            rows = "".join(
                "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in s.rows
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>"
    )


def render_card(lineage: ModelLineage) -> ModelCard:
    title = f"Model card: {lineage.version.model} v{lineage.version.version}"
    parts = sections(lineage)
    return ModelCard(markdown=to_markdown(title, parts), html=to_html(title, parts))


def _version_label(version: int | None) -> str:
    """Like v3, or "none" for the side of a move where the alias pointed nowhere."""
    return "none" if version is None else f"v{version}"
