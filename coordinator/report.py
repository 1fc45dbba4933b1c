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

from fedtrade.coordinator.green_lane import (
    COMPLIANCE_SAMPLE,
    FACILITATED,
    REVIEW,
    GreenLaneSummary,
)
from fedtrade.coordinator.result_files import atomic_text_file
from fedtrade.coordinator.results import (
    RISK_LEVELS,
    BudgetPoint,
    NodeStats,
    ScreeningSummary,
    ShipmentResult,
)
from fedtrade.coordinator.risk import PATTERN_NAMES

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


def _name(pattern: str) -> str:
    return escape(PATTERN_NAMES.get(pattern, pattern.replace("_", " ").capitalize()))


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
        '<p class="note">Shipments flagged with each violation from the stakeholder '
        "nodes' answers (federation), against what the manifest alone flags (baseline "
        "without the federation). Every manifest-only count stands with its precision "
        "against the nodes' evidence: the share of its flags that the nodes' answers also "
        "flag (precision against a ground truth: <span class='code'>fedtrade evaluate</span>).</p>"
    )
    if not order:
        return (f'<section id="patterns"><h2>Violations</h2>{note}'
                "<p>No shipment was flagged with any violation.</p></section>")
    rows = []
    for p in order:
        base = s.manifest_only_by_pattern.get(p, 0)
        confirmed = s.manifest_only_confirmed.get(p, 0)
        rows.append((
            _name(p),
            _n(s.by_pattern.get(p, 0)),
            _share(s.by_pattern.get(p, 0), s.shipments),
            _n(base),
            f"{confirmed / base:.2f}" if base else _NONE,
        ))
    table = _table(
        [("Violation", False), ("Federation", True), ("Share", True), ("Manifest alone", True),
         ("Manifest-alone precision vs. nodes", True)],
        rows,
    )
    return f'<section id="patterns"><h2>Violations</h2>{note}{table}</section>'


def _chart(s: ScreeningSummary, order: Sequence[str]) -> str:
    title = "<h2>Risk patterns, federation vs. manifest alone</h2>"
    if not order:
        return f'<section id="chart">{title}<p>Nothing to chart.</p></section>'
    label_w, bar_w, value_w, bar_h, gap, top = 210, 400, 210, 13, 12, 30
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
            f'<text x="{label_w - 8}" y="{y + bar_h + 4}" text-anchor="end">'
            f'{escape(pattern.replace("_", " "))}</text>'
        )
        for row, (what, counts, colour) in enumerate((
            ("federation", s.by_pattern, _FED_COLOUR),
            ("manifest alone", s.manifest_only_by_pattern, _BASE_COLOUR),
        )):
            count = counts.get(pattern, 0)
            w = bar_w * count / peak
            base = s.manifest_only_confirmed.get(pattern, 0)
            extra = (f" (precision vs. nodes {base / count:.2f})"
                     if row == 1 and count else "")
            by = y + row * bar_h
            parts.append(
                f'<rect x="{label_w}" y="{by}" width="{w:.1f}" height="{bar_h - 2}" '
                f'fill="{colour}"><title>{_name(pattern)}, {what}: {_n(count)}</title></rect>'
                f'<text x="{label_w + w + 4:.1f}" y="{by + bar_h - 3}">{_n(count)}{extra}</text>'
            )
    parts.append("</svg>")
    return f'<section id="chart">{title}{"".join(parts)}</section>'


def _budget(points: Sequence[BudgetPoint]) -> str:
    title = "<h2>Inspection budget: what opening the top of each worklist catches</h2>"
    if not points:
        return f'<section id="budget">{title}<p>Nothing to chart.</p></section>'
    note = (
        '<p class="note">Each worklist lists the shipments it scored above zero, highest '
        "first: the federation by its score, the manifest alone by the same rule weights. "
        "For each budget (share of all shipments opened) the curve counts the opened "
        "shipments that carry a violation flagged from the nodes' evidence, so the "
        "federation's own curve is an upper reference here; recall and hit rate against "
        "a ground truth come from <span class='code'>fedtrade evaluate</span>.</p>"
    )
    left, right, top, bottom, plot_w, plot_h = 60, 150, 20, 40, 520, 220
    width, height = left + plot_w + right, top + plot_h + bottom
    x_max = max(p.share for p in points)
    y_max = max(1, *(max(p.federation, p.manifest_only) for p in points))

    def xy(share: float, count: int) -> tuple[float, float]:
        return (left + plot_w * share / x_max, top + plot_h * (1 - count / y_max))

    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        'aria-labelledby="budget-title"><title id="budget-title">Violations caught per '
        "inspection budget: federation vs. manifest alone</title>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#1b1f24"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#1b1f24"/>',
        f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle">'
        "share of shipments opened</text>",
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{_n(y_max)}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    for p in points:
        x, _ = xy(p.share, 0)
        parts.append(f'<text x="{x:.1f}" y="{top + plot_h + 14}" text-anchor="middle">'
                     f"{p.share:.0%}</text>")
    curves = (("federation", _FED_COLOUR, [p.federation for p in points]),
              ("manifest alone", _BASE_COLOUR, [p.manifest_only for p in points]))
    for what, colour, counts in curves:
        coords = [xy(0.0, 0), *(xy(p.share, c) for p, c in zip(points, counts, strict=True))]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                     'stroke-width="2"/>')
        for p, c, (x, y) in zip(points, counts, coords[1:], strict=True):
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>'
                         f"{what}, top {p.share:.0%} ({_n(p.slots)} shipments): "
                         f"{_n(c)} with a violation</title></circle>")
        last_x, last_y = coords[-1]
        parts.append(f'<text x="{last_x + 8:.1f}" y="{last_y + 4:.1f}">{what}</text>')
    parts.append("</svg>")
    rows = [(f"{p.share:.0%}", _n(p.slots), _n(p.federation), _n(p.manifest_only))
            for p in points]
    table = _table([("Budget", True), ("Shipments opened", True), ("Federation", True),
                    ("Manifest alone", True)], rows)
    return f'<section id="budget">{title}{note}{"".join(parts)}{table}</section>'


def _top(top: Sequence[ShipmentResult]) -> str:
    title = "<h2>Worklist: top-risk shipments by violation</h2>"
    if not top:
        return f'<section id="top">{title}<p>No shipments.</p></section>'
    groups: dict[str, list[ShipmentResult]] = {}
    for r in top:
        groups.setdefault(r.patterns[0] if r.patterns else "", []).append(r)
    head = [("House bill", False), ("Risk", False), ("Score", True), ("Reasons (points)", False),
            ("Nodes answered", False), ("No answer from", False)]
    sections = []
    for pattern, results in groups.items():
        rows = [
            (
                f'<span class="code">{escape(r.house_bill)}</span>',
                _level(r.risk_level),
                _n(r.score),
                _list(r.reasons),
                escape(", ".join(r.answered_by)) if r.answered_by else _NONE,
                _list(r.no_answer),
            )
            for r in results
        ]
        name = _name(pattern) if pattern else "Indicators only (no violation flagged)"
        sections.append(f"<h3>{name} ({_n(len(results))})</h3>{_table(head, rows)}")
    note = (f'<p class="note">The worklist: the {_n(len(top))} highest-scoring shipments, '
            "grouped by their first violation (in the order of the rules), highest score "
            "first in each group. Each reason shows the points it adds; they add up to the "
            "score.</p>")
    return f'<section id="top">{title}{note}{"".join(sections)}</section>'


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


def _green_lane(lane: GreenLaneSummary | None) -> str:
    if lane is None:
        return ""
    title = "<h2>AEO green lane</h2>"
    counts, total = lane.by_disposition, lane.shipments
    sampled = counts.get(COMPLIANCE_SAMPLE, 0)
    out_of_review = counts.get(FACILITATED, 0) + sampled
    rule = lane.rule
    note = (f'<p class="note">A shipment whose data chain (every node that answered for it, '
            f"and the filer) holds a valid AEO certificate of tier "
            f"{escape(', '.join(sorted(rule.tiers)))}, that every node answered for, and whose "
            f"score is below {rule.score_below} is facilitated instead of reviewed; "
            f"{100 * rule.compliance_sample_rate:g} % of those still go to inspection "
            f"(compliance sample, seed <span class=\"code\">{escape(lane.seed_hex)}</span>, "
            "kept in the evidence store).</p>")
    rows = [
        ("Shipments screened", _n(total), ""),
        ("Taken out of review by the green lane", _n(out_of_review), _share(out_of_review, total)),
        ("&nbsp;&nbsp;facilitated (released)", _n(counts.get(FACILITATED, 0)),
         _share(counts.get(FACILITATED, 0), total)),
        ("&nbsp;&nbsp;compliance sample (to inspect)", _n(sampled), _share(sampled, total)),
        ("Compliance sample hits (a node flags a violation)", _n(lane.sample_hits),
         _share(lane.sample_hits, sampled)),
        ("Left in review", _n(counts.get(REVIEW, 0)), _share(counts.get(REVIEW, 0), total)),
    ]
    table = _table([("", False), ("shipments", True), ("share", True)], rows)
    certs = _table([("node", False), ("certificate that counted", False)],
                   [(escape(n), escape(tier)) for n, tier in sorted(lane.certification.items())])
    return f'<section id="green-lane">{title}{note}{table}{certs}</section>'


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
        _budget(summary.budget_curve),
        _top(summary.top),
        _green_lane(summary.green_lane),
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
