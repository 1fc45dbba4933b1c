"""The screening run's HTML report: one self-contained file a targeting officer opens.

Everything is inline (style, SVG chart); the page fetches nothing. Every piece of text
that comes from data is escaped with ``html.escape``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from pathlib import Path

from fedtrade.coordinator.result_files import atomic_text_file
from fedtrade.coordinator.results import RISK_LEVELS, NodeStats, ScreeningSummary, ShipmentResult

__all__ = ["p95", "render_report", "write_report"]

_STYLE = """
:root { --ink: #1b1f24; --muted: #5b6570; --rule: #d0d5db; --band: #f3f5f7;
        --high: #b3261e; --medium: #9a6700; --low: #2e7d32; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
       color: var(--ink); margin: 0 auto; max-width: 72rem; padding: 1.5rem; }
h1 { font-size: 1.5rem; margin: 0 0 .75rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 .5rem; border-bottom: 2px solid var(--ink);
     padding-bottom: .2rem; }
p.note { color: var(--muted); margin: .25rem 0 .75rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: 0; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; margin: .25rem 0; }
th, td { text-align: left; vertical-align: top; padding: .3rem .5rem;
         border-bottom: 1px solid var(--rule); }
thead th { border-bottom: 2px solid var(--ink); background: var(--band); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td ul { margin: 0; padding-left: 1.1rem; }
span.code { font-family: ui-monospace, Menlo, Consolas, monospace; white-space: nowrap; }
.level { font-weight: 700; text-transform: uppercase; font-size: .85em; }
.level-high { color: var(--high); }
.level-medium { color: var(--medium); }
.level-low { color: var(--low); }
.none { color: var(--muted); }
svg { width: 100%; height: auto; max-width: 60rem; }
svg text { font: 11px system-ui, Arial, sans-serif; fill: var(--ink); }
footer { margin-top: 2.5rem; color: var(--muted); font-size: .85em; }
@media print {
  body { font-size: 10pt; max-width: none; padding: 0; }
  section { break-inside: avoid; }
  tr { break-inside: avoid; }
  thead { display: table-header-group; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""

_NONE = '<span class="none">—</span>'
_NUM = ' class="num"'
# Chart colours (SVG attributes, so literal rather than CSS variables).
_FED_COLOUR = "#1f5f99"
_BASE_COLOUR = "#9aa3ad"


def p95(values: Sequence[float]) -> float:
    """The 95th percentile by nearest rank (an observed value, defined for any count)."""
    if not values:
        raise ValueError("p95 of no values")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def _n(value: int) -> str:
    return f"{value:,}"


def _share(count: int, total: int) -> str:
    return f"{100 * count / total:.1f} %" if total else "—"


def _level(level: str) -> str:
    css = f' class="level level-{level}"' if level in RISK_LEVELS else ' class="level"'
    return f"<span{css}>{escape(level)}</span>"


def _list(items: Iterable[str]) -> str:
    lis = "".join(f"<li>{escape(item)}</li>" for item in items)
    return f"<ul>{lis}</ul>" if lis else _NONE


def _table(head: Sequence[tuple[str, bool]], rows: Iterable[Sequence[str]]) -> str:
    """``head`` is (title, numeric) per column; ``rows`` hold already escaped HTML cells."""
    ths = "".join(f'<th{_NUM if num else ""}>{escape(t)}</th>' for t, num in head)
    body = "".join(
        "<tr>"
        + "".join(f'<td{_NUM if num else ""}>{cell}</td>'
                  for (_, num), cell in zip(head, row, strict=True))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{ths}</tr></thead><tbody>{body}</tbody></table>"


def _header(s: ScreeningSummary) -> str:
    seconds = (s.finished_at - s.started_at).total_seconds()
    rate = f"{s.shipments / seconds:,.0f} shipments/s" if seconds > 0 else "—"
    facts = [
        ("Manifest", s.manifest),
        ("Case", s.case_id),
        ("Purpose", s.purpose),
        ("Started", s.started_at.isoformat(sep=" ", timespec="seconds")),
        ("Finished", s.finished_at.isoformat(sep=" ", timespec="seconds")),
        ("Duration", f"{seconds:,.1f} s ({rate})"),
        ("Shipments screened", _n(s.shipments)),
    ]
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts)
    return (
        '<header id="header"><h1>Manifest screening report</h1>'
        f'<dl class="facts">{items}</dl></header>'
    )


def _summary(s: ScreeningSummary) -> str:
    levels = [*RISK_LEVELS, *sorted(set(s.by_level) - set(RISK_LEVELS))]
    rows = [(_level(lv), _n(s.by_level.get(lv, 0)), _share(s.by_level.get(lv, 0), s.shipments))
            for lv in levels]
    table = _table([("Risk level", False), ("Shipments", True), ("Share", True)], rows)
    return f'<section id="summary"><h2>Shipments by risk level</h2>{table}</section>'


def _pattern_order(s: ScreeningSummary) -> list[str]:
    names = set(s.by_pattern) | set(s.manifest_only_by_pattern)
    return sorted(names, key=lambda p: (-s.by_pattern.get(p, 0),
                                        -s.manifest_only_by_pattern.get(p, 0), p))


def _patterns(s: ScreeningSummary, order: Sequence[str]) -> str:
    note = (
        '<p class="note">Shipments flagged with each risk pattern from the stakeholder '
        "nodes' answers (federation), against what the manifest alone reveals "
        "(baseline without the federation).</p>"
    )
    if not order:
        return (f'<section id="patterns"><h2>Risk patterns</h2>{note}'
                "<p>No shipment was flagged with any pattern.</p></section>")
    rows = [
        (
            escape(p),
            _n(s.by_pattern.get(p, 0)),
            _share(s.by_pattern.get(p, 0), s.shipments),
            _n(s.manifest_only_by_pattern.get(p, 0)),
        )
        for p in order
    ]
    table = _table(
        [("Pattern", False), ("Federation", True), ("Share", True), ("Manifest alone", True)],
        rows,
    )
    return f'<section id="patterns"><h2>Risk patterns</h2>{note}{table}</section>'


def _chart(s: ScreeningSummary, order: Sequence[str]) -> str:
    title = "<h2>Risk patterns, federation vs. manifest alone</h2>"
    if not order:
        return f'<section id="chart">{title}<p>Nothing to chart.</p></section>'
    label_w, bar_w, value_w, bar_h, gap, top = 210, 440, 70, 13, 12, 30
    width = label_w + bar_w + value_w
    height = top + len(order) * (2 * bar_h + gap)
    peak = max([*s.by_pattern.values(), *s.manifest_only_by_pattern.values(), 1])
    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        'aria-labelledby="chart-title"><title id="chart-title">Shipments flagged per risk '
        "pattern: federation vs. manifest alone</title>",
        f'<rect x="{label_w}" y="4" width="12" height="12" fill="{_FED_COLOUR}"/>'
        f'<text x="{label_w + 18}" y="14">federation</text>'
        f'<rect x="{label_w + 120}" y="4" width="12" height="12" fill="{_BASE_COLOUR}"/>'
        f'<text x="{label_w + 138}" y="14">manifest alone</text>',
    ]
    for k, pattern in enumerate(order):
        y = top + k * (2 * bar_h + gap)
        parts.append(
            f'<text x="{label_w - 8}" y="{y + bar_h + 4}" text-anchor="end">{escape(pattern)}'
            "</text>"
        )
        for row, (what, counts, colour) in enumerate((
            ("federation", s.by_pattern, _FED_COLOUR),
            ("manifest alone", s.manifest_only_by_pattern, _BASE_COLOUR),
        )):
            count = counts.get(pattern, 0)
            w = bar_w * count / peak
            by = y + row * bar_h
            parts.append(
                f'<rect x="{label_w}" y="{by}" width="{w:.1f}" height="{bar_h - 2}" '
                f'fill="{colour}"><title>{escape(pattern)}, {what}: {_n(count)}</title></rect>'
                f'<text x="{label_w + w + 4:.1f}" y="{by + bar_h - 3}">{_n(count)}</text>'
            )
    parts.append("</svg>")
    return f'<section id="chart">{title}{"".join(parts)}</section>'


def _top(top: Sequence[ShipmentResult]) -> str:
    title = "<h2>Top-risk shipments</h2>"
    if not top:
        return f'<section id="top">{title}<p>No shipments.</p></section>'
    rows = [
        (
            f'<span class="code">{escape(r.house_bill)}</span>',
            _level(r.risk_level),
            _n(r.score),
            _list(r.reasons),
            escape(", ".join(r.answered_by)) if r.answered_by else _NONE,
            _list(r.no_answer),
        )
        for r in top
    ]
    table = _table(
        [("House bill", False), ("Risk", False), ("Score", True), ("Reasons", False),
         ("Nodes answered", False), ("No answer from", False)],
        rows,
    )
    note = f'<p class="note">The {_n(len(top))} highest-scoring shipments, highest first.</p>'
    return f'<section id="top">{title}{note}{table}</section>'


def _failures(failures: Mapping[str, int]) -> str:
    ordered = sorted(failures.items(), key=lambda item: (-item[1], item[0]))
    return _list(f"{reason}: {_n(count)} batch(es)" for reason, count in ordered)


def _seconds(values: Sequence[float]) -> tuple[str, str]:
    """Median and p95 of the answer times, as table cells."""
    if not values:
        return _NONE, _NONE
    return f"{statistics.median(values):.3f}", f"{p95(values):.3f}"


def _nodes(nodes: Sequence[NodeStats]) -> str:
    title = "<h2>Node answers</h2>"
    if not nodes:
        return f'<section id="nodes">{title}<p>No node was asked.</p></section>'
    rows = [
        (
            escape(n.node_id),
            escape(n.role),
            _n(n.batches_answered),
            _n(n.batches_failed),
            *_seconds(n.answer_seconds),
            _failures(n.failures),
        )
        for n in nodes
    ]
    table = _table(
        [("Node", False), ("Role", False), ("Batches answered", True), ("Batches failed", True),
         ("Median answer (s)", True), ("p95 answer (s)", True), ("Failures", False)],
        rows,
    )
    note = ('<p class="note">Answer time: from sending a batch to its last verified chunk. '
            "Shipments in failed batches are marked with the node's reason.</p>")
    return f'<section id="nodes">{title}{note}{table}</section>'


def render_report(summary: ScreeningSummary) -> str:
    """The report as one self-contained HTML document."""
    order = _pattern_order(summary)
    title = escape(f"Screening report — {summary.manifest} — case {summary.case_id}")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title><style>{_STYLE}</style></head><body>",
        _header(summary),
        "<main>",
        _summary(summary),
        _patterns(summary, order),
        _chart(summary, order),
        _top(summary.top),
        _nodes(summary.nodes),
        "</main>",
        '<footer>Generated by fedtrade. Figures come from signed node answers; this file is '
        "self-contained and loads nothing from the network.</footer>",
        "</body></html>",
        "",
    ])


def write_report(path: Path | str, summary: ScreeningSummary) -> None:
    """Write the report to ``path`` atomically (nothing is left behind on failure)."""
    with atomic_text_file(path) as handle:
        handle.write(render_report(summary))
