"""A scorecard as one self-contained HTML page, with a chart per measure over the period.

Everything is inline and every text from the document is escaped. The signed
envelope travels inside the page, so `fedtrade aeo verify-scorecard` can check
the page itself: it re-renders the signed document and compares byte for byte.
Rendering depends on the document alone (no clock, no randomness).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from fedtrade.coordinator.aeo_config import MEASURES

__all__ = ["ENVELOPE_SCRIPT_ID", "render_scorecard"]

ENVELOPE_SCRIPT_ID = "fedtrade-signed-scorecard"
_STYLE = """
body { font: 14px/1.45 system-ui, Arial, sans-serif; color: #1b1f24; margin: 0 auto;
       max-width: 64rem; padding: 1.5rem; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; border-bottom: 2px solid #1b1f24; }
table { border-collapse: collapse; margin: .25rem 0 1rem; }
th, td { text-align: left; padding: .25rem .6rem; border-bottom: 1px solid #d0d5db; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #2e7d32; font-weight: 600; } .short { color: #b3261e; font-weight: 600; }
.charts { display: grid; grid-template-columns: repeat(2, 1fr); gap: .5rem 1.5rem; }
svg { width: 100%; height: auto; } svg text { font: 10px system-ui, Arial, sans-serif; }
p.note { color: #5b6570; }
"""
_W, _H, _PAD = 300, 120, 24


def _value(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _chart(measure: str, daily: Sequence[Mapping[str, Any]]) -> str:
    """Bars of one measure per day (days without evidence of it are left empty)."""
    points = [(d["day"], d[measure]) for d in daily]
    width = (_W - 2 * _PAD) / max(len(points), 1)
    bars = []
    for index, (day, value) in enumerate(points):
        if value is None:
            continue
        height = (_H - 2 * _PAD) * value
        x, bar = _PAD + index * width, max(width - 1, 1)
        bars.append(f'<rect x="{x:.1f}" y="{_H - _PAD - height:.1f}" width="{bar:.1f}"'
                    f' height="{height:.1f}" fill="#3b6ea5"><title>{escape(day)}: '
                    f"{value:.3f}</title></rect>")
    first = escape(points[0][0]) if points else ""
    last = escape(points[-1][0]) if points else ""
    return (f'<figure><figcaption>{escape(measure)} per day</figcaption>'
            f'<svg viewBox="0 0 {_W} {_H}" role="img" aria-label="{escape(measure)} per day">'
            f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}" '
            'stroke="#1b1f24"/>'
            f'<line x1="{_PAD}" y1="{_PAD}" x2="{_W - _PAD}" y2="{_PAD}" stroke="#d0d5db"/>'
            f'<text x="2" y="{_PAD + 3}">1.0</text><text x="2" y="{_H - _PAD + 3}">0</text>'
            f'{"".join(bars)}<text x="{_PAD}" y="{_H - 6}">{first}</text>'
            f'<text x="{_W - _PAD}" y="{_H - 6}" text-anchor="end">{last}</text></svg></figure>')


def _node(card: Mapping[str, Any]) -> str:
    certificate = card["certificate"]
    held = (f"AEO certificate {escape(certificate['certificate_id'][:16])}, tier "
            f"<strong>{escape(certificate['tier'])}</strong>, valid until "
            f"{escape(certificate['valid_until'][:10])}") if certificate else \
        "no AEO certificate that counts"
    supported = card["supported_tier"]
    verdict = (f'<span class="ok">the evidence supports tier {escape(supported)}</span>'
               if supported else '<span class="short">the evidence supports no tier</span>')
    rows = "".join(
        f"<tr><td>{escape(m)}</td><td class=\"num\">{_value(card['measures'][m]['value'])}</td>"
        f"<td class=\"num\">{card['measures'][m]['numerator']:,} / "
        f"{card['measures'][m]['denominator']:,}</td></tr>" for m in MEASURES)
    integrity = card["integrity"]
    rows += (f"<tr><td>integrity</td><td class=\"num\">{'ok' if integrity['ok'] else 'FAILED'}"
             f"</td><td class=\"num\">{integrity['problem_count']:,} problem(s)</td></tr>")
    refusals = "".join(f"<tr><td>{escape(code)}</td><td class=\"num\">{n:,}</td></tr>"
                       for code, n in card["refusals"].items()) or \
        "<tr><td>none</td><td class=\"num\">0</td></tr>"
    tiers = "".join(
        f"<tr><td>{escape(t['name'])}</td><td>"
        + ('<span class="ok">met</span>' if not t["shortfalls"] else
           "<br>".join(f'<span class="short">{escape(s)}</span>' for s in t["shortfalls"]))
        + "</td></tr>" for t in card["tiers"])
    problems = "".join(f"<li>{escape(p)}</li>" for p in integrity["problems"])
    charts = "".join(_chart(m, card["daily"]) for m in MEASURES)
    questions = card["questions"]
    return (f'<section><h2>{escape(card["node_id"])} ({escape(card["role"])})</h2>'
            f"<p>{held}; {verdict}. {questions['answered']:,} of {questions['asked']:,} "
            "questions answered.</p>"
            f"<table><thead><tr><th>measure</th><th>value</th><th>evidence</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
            + (f"<ul>{problems}</ul>" if problems else "")
            + "<table><thead><tr><th>tier</th><th>criteria</th></tr></thead>"
            f"<tbody>{tiers}</tbody></table>"
            "<table><thead><tr><th>unanswered, by reason</th><th>questions</th></tr></thead>"
            f"<tbody>{refusals}</tbody></table>"
            f'<div class="charts">{charts}</div></section>')


def render_scorecard(document: Mapping[str, Any], envelope_json: str) -> str:
    """The page for ``document``, carrying its signed envelope (JSON) for verification."""
    title = escape(f"AEO data-sharing scorecard — {document['period']}")
    embedded = envelope_json.replace("</", "<\\/")
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{title}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{title}</h1>",
        f'<p class="note">Computed by coordinator {escape(document["coordinator"])} on '
        f"{escape(document['generated_at'])} only from its signed evidence: the queries it "
        "sent, the answers the node signed, the questions left unanswered. Signed by the "
        "coordinator; check that this page was not altered with "
        "<code>fedtrade aeo verify-scorecard THIS.html --coordinator-key KEY.pub</code>.</p>",
        *(_node(card) for card in document["nodes"]),
        f'<script type="application/json" id="{ENVELOPE_SCRIPT_ID}">{embedded}</script>',
        "</body></html>", "",
    ])
