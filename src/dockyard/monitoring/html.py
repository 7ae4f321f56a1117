"""A monitor's report as one self-contained HTML page (no scripts, no outside assets): the
period per model version (drift of the period per column, performance, label coverage),
then every window with its drifted columns, quality problems and performance."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from dockyard.monitoring.schemas import Report, WindowResult

_STYLE = """
body{font:14px system-ui,sans-serif;margin:2em;color:#1f2328}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left}
th{background:#f6f8fa}.num{text-align:right}.bad{background:#ffebe9;font-weight:600}
small{color:#57606a}
"""


def _num(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def render(report: Report, windows: Sequence[WindowResult], metric: str | None) -> str:
    """The page for ``report`` and its ``windows`` (``metric``: the monitor's performance
    metric, shown per window)."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{escape(report.model)} / {escape(report.monitor)}: monitoring</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{escape(report.model)} <small>monitor {escape(report.monitor)}</small></h1>",
        f"<p>{report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} UTC; "
        f"{report.alerts} alerts.</p>",
    ]
    for v in report.versions:
        parts.append(
            f"<h2>v{v.version} <small>{v.windows} windows, {v.rows:,} predictions; reference "
            f"{escape(v.reference)}; {v.windows_drifted} windows with drift, "
            f"{v.quality_problems} quality problems</small></h2>"
        )
        perf = v.performance
        if perf.realised or perf.estimated:
            parts.append("<table><tr><th>metric</th><th>realised</th><th>estimated</th></tr>")
            for name in sorted(set(perf.realised) | set(perf.estimated)):
                parts.append(
                    f"<tr><td>{escape(name)}</td><td class=num>{_num(perf.realised.get(name))}"
                    f"</td><td class=num>{_num(perf.estimated.get(name))}</td></tr>"
                )
            parts.append(
                f"</table><p>labels: {perf.labelled:,} ({perf.coverage:.1%} of predictions)</p>"
            )
        parts.append(
            "<table><tr><th>column</th><th>method</th><th>statistic</th><th>threshold</th>"
            "<th>p-value</th><th>drifted</th></tr>"
        )
        for d in v.drift:
            css = " class=bad" if d.drifted else ""
            parts.append(
                f"<tr{css}><td>{escape(d.column)}</td><td>{escape(d.method)}</td>"
                f"<td class=num>{_num(d.statistic)}</td><td class=num>{_num(d.threshold)}</td>"
                f"<td class=num>{_num(d.p_value)}</td><td>{'yes' if d.drifted else ''}</td></tr>"
            )
        parts.append("</table>")
    parts.append(
        "<h2>Windows</h2><table><tr><th>window (UTC)</th><th>version</th><th>rows</th>"
        "<th>drifted columns</th><th>quality</th><th>labels</th>"
        f"<th>{escape(metric or 'metric')}</th><th>estimated</th></tr>"
    )
    for w in windows:
        css = " class=bad" if w.drifted or w.quality else ""
        quality = "; ".join(escape(q.message) for q in w.quality[:5])
        parts.append(
            f"<tr{css}><td>{w.start:%Y-%m-%d %H:%M}</td><td>v{w.version}</td>"
            f"<td class=num>{w.rows:,}</td><td>{escape(', '.join(w.drifted))}</td>"
            f"<td>{quality}</td><td class=num>{w.performance.labelled:,} "
            f"({w.performance.coverage:.0%})</td>"
            f"<td class=num>{_num(w.performance.realised.get(metric or ''))}</td>"
            f"<td class=num>{_num(w.performance.estimated.get(metric or ''))}</td></tr>"
        )
    parts.append("</table></body></html>")
    return "".join(parts)
