"""The HTML report: sections, figures and rows, self-containment, and escaping (parsed)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.coordinator.report import p95, render_report, write_report
from fedtrade.coordinator.results import BudgetPoint, NodeStats, ScreeningSummary, ShipmentResult
from fedtrade.trust.errors import DataError

SECTIONS = ("header", "summary", "patterns", "chart", "budget", "top", "nodes")
START = datetime(2026, 11, 2, 6, 30, tzinfo=UTC)


class Page(HTMLParser):
    """What a reader of the page sees: sections, their table rows, texts and tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.rows: dict[str, list[list[str]]] = {}
        self.texts: dict[str, list[str]] = {}
        self.svg_titles: list[str] = []
        self.section = ""
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.in_title = False
        self.svg = 0

    def sections(self) -> list[str]:
        return [str(a["id"]) for _, a in self.tags if a.get("id") in SECTIONS]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if attributes.get("id") in SECTIONS:
            self.section = str(attributes["id"])
        if tag == "svg":
            self.svg += 1
        elif tag == "title" and self.svg:
            self.in_title = True
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []
        elif tag == "li" and self.cell:
            self.cell.append(" / ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.row is not None and self.cell is not None:
            self.row.append("".join(self.cell).strip(" /"))
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.rows.setdefault(self.section, []).append(self.row)
            self.row = None
        elif tag == "title":
            self.in_title = False
        elif tag == "svg":
            self.svg -= 1

    def handle_data(self, data: str) -> None:
        self.texts.setdefault(self.section, []).append(data)
        if self.cell is not None:
            self.cell.append(data)
        if self.in_title:
            self.svg_titles.append(data)

    def text(self, section: str) -> str:
        return " ".join(" ".join(self.texts.get(section, [])).split())

    def body(self, section: str) -> list[list[str]]:
        return self.rows[section][1:]


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


REASONS = ("marketplace: paid/declared ratio band <0.5",
           "carrier+broker: consignee over threshold on 2026-11-02")


def _result(
    bill: str,
    level: str,
    score: int,
    *,
    reasons: tuple[str, ...] = REASONS,
    answered_by: tuple[str, ...] = ("marketplace-1", "carrier-1"),
    no_answer: tuple[str, ...] = ("broker-1: deadline exceeded after 5.0 s",),
) -> ShipmentResult:
    return ShipmentResult(
        house_bill=bill,
        risk_level=level,
        score=score,
        patterns=("undervaluation", "split_shipment"),
        reasons=reasons,
        manifest_only_patterns=(),
        answered_by=answered_by,
        no_answer=no_answer,
    )


SUMMARY = ScreeningSummary(
    manifest="manifests/inbound-2026-11-02.csv",
    purpose="TARGETING",
    case_id="CASE-2026-0042",
    started_at=START,
    finished_at=START + timedelta(seconds=4),
    shipments=1000,
    by_level={"high": 25, "medium": 75, "low": 900},
    by_pattern={"undervaluation": 30, "split_shipment": 28, "unscreened": 20},
    top=(
        _result("AB1234567890", "high", 95),
        _result("CD2345678901", "high", 80, no_answer=()),
        _result("EF3456789012", "medium", 40, reasons=("carrier: not screened",),
                answered_by=()),
    ),
    nodes=(
        NodeStats("marketplace-1", "marketplace", 20, 0, {}, [0.1 * k for k in range(1, 21)]),
        NodeStats("carrier-1", "carrier", 18, 2, {"deadline exceeded": 1, "UNAVAILABLE": 1},
                  [0.5, 0.2, 0.3]),
        NodeStats("broker-1", "broker", 0, 20, {"deadline exceeded after 5.0 s": 20}, []),
    ),
    manifest_only_by_pattern={"split_shipment": 12, "manifest_entry_gap": 3},
    manifest_only_confirmed={"split_shipment": 9},
    budget_curve=(BudgetPoint(0.01, 10, 10, 4), BudgetPoint(0.05, 50, 50, 9),
                  BudgetPoint(0.10, 100, 78, 9)),
)


@pytest.fixture(scope="module")
def page() -> Page:
    return parse(render_report(SUMMARY))


def test_every_section_is_there_in_order(page: Page) -> None:
    assert page.sections() == list(SECTIONS)
    assert page.tags[0][0] == "html"
    assert ("meta", {"charset": "utf-8"}) in page.tags


def test_header_names_the_run(page: Page) -> None:
    text = page.text("header")
    for expected in ("manifests/inbound-2026-11-02.csv", "CASE-2026-0042", "TARGETING",
                     "2026-11-02 06:30:00+00:00", "2026-11-02 06:30:04+00:00",
                     "4.0 s (250 shipments/s)", "Shipments screened 1,000"):
        assert expected in text


def test_summary_counts_by_level(page: Page) -> None:
    assert page.body("summary") == [
        ["high", "25", "2.5 %"],
        ["medium", "75", "7.5 %"],
        ["low", "900", "90.0 %"],
    ]


def test_patterns_federation_against_the_manifest_alone(page: Page) -> None:
    assert page.rows["patterns"][0] == ["Violation", "Federation", "Share", "Manifest alone",
                                        "Manifest-alone precision vs. nodes"]
    assert page.body("patterns") == [
        ["Undervaluation (declared below the price paid)", "30", "3.0 %", "0", "—"],
        ["Split shipment (one consignee over the de minimis threshold)", "28", "2.8 %", "12",
         "0.75"],
        ["Security: not screened or held", "20", "2.0 %", "0", "—"],
        ["Entry value differs from the manifest", "0", "0.0 %", "3", "0.00"],
    ]


def test_chart_is_inline_svg_with_one_bar_per_pattern_and_source(page: Page) -> None:
    rects = [a for tag, a in page.tags if tag == "rect"]
    assert len(rects) == 2 + 2 * 4  # legend + (federation, manifest alone) per pattern
    under = "Undervaluation (declared below the price paid)"
    split = "Split shipment (one consignee over the de minimis threshold)"
    gap = "Entry value differs from the manifest"
    assert f"{under}, federation: 30" in page.svg_titles
    assert f"{split}, manifest alone: 12" in page.svg_titles
    widths = {t: float(str(a["width"])) for t, a in zip(page.svg_titles[1:], rects[2:],
                                                        strict=False)}
    assert widths[f"{under}, federation: 30"] == 400.0  # the longest bar fills the axis
    assert widths[f"{split}, manifest alone: 12"] == pytest.approx(400 * 12 / 30, abs=0.1)
    assert widths[f"{gap}, federation: 0"] == 0.0
    # a manifest-alone count never stands without its precision
    assert "12 (precision vs. nodes 0.75)" in page.text("chart")
    assert "3 (precision vs. nodes 0.00)" in page.text("chart")


def test_budget_curve_federation_against_the_manifest_alone(page: Page) -> None:
    assert page.body("budget") == [
        ["1%", "10", "10", "4"], ["5%", "50", "50", "9"], ["10%", "100", "78", "9"],
    ]
    lines = [a for tag, a in page.tags if tag == "polyline"]
    assert len(lines) == 2  # federation and manifest alone
    # 3 points after the origin; the tallest (78) at the top of the plot (y = 20)
    fed = [tuple(map(float, xy.split(","))) for xy in str(lines[0]["points"]).split()]
    assert fed == [(60.0, 240.0), (112.0, round(240 - 220 * 10 / 78, 1)),
                   (320.0, round(240 - 220 * 50 / 78, 1)), (580.0, 20.0)]
    assert "manifest alone, top 5% (50 shipments): 9 with a violation" in page.svg_titles


def test_top_risk_shipments(page: Page) -> None:
    assert page.rows["top"][0] == ["House bill", "Risk", "Score", "Reasons (points)",
                                   "Nodes answered", "No answer from"]
    assert "Undervaluation (declared below the price paid) (3)" in page.text("top")
    assert page.body("top") == [
        ["AB1234567890", "high", "95",
         "marketplace: paid/declared ratio band <0.5 / "
         "carrier+broker: consignee over threshold on 2026-11-02",
         "marketplace-1, carrier-1", "broker-1: deadline exceeded after 5.0 s"],
        ["CD2345678901", "high", "80",
         "marketplace: paid/declared ratio band <0.5 / "
         "carrier+broker: consignee over threshold on 2026-11-02",
         "marketplace-1, carrier-1", "—"],
        ["EF3456789012", "medium", "40", "carrier: not screened", "—",
         "broker-1: deadline exceeded after 5.0 s"],
    ]


def test_node_answer_times_and_failures(page: Page) -> None:
    assert page.body("nodes") == [
        # median of 0.1..2.0 is 1.05; p95 by nearest rank is the 19th of 20 values
        ["marketplace-1", "marketplace", "20", "0", "1.050", "1.900", "—"],
        ["carrier-1", "carrier", "18", "2", "0.300", "0.500",
         "UNAVAILABLE: 1 batch(es) / deadline exceeded: 1 batch(es)"],
        ["broker-1", "broker", "0", "20", "—", "—",
         "deadline exceeded after 5.0 s: 20 batch(es)"],
    ]


def test_page_loads_nothing(page: Page) -> None:
    html = render_report(SUMMARY)
    lowered = html.lower()
    for needle in ("http://", "https://", "src=", "<link", "<script", "@import", "url("):
        assert needle not in lowered
    assert {tag for tag, _ in page.tags} <= {
        "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "dl", "dt",
        "dd", "main", "section", "p", "table", "thead", "tbody", "tr", "th", "td", "span",
        "ul", "li", "svg", "rect", "text", "footer", "h3", "line", "polyline", "circle",
    }


HOSTILE = '<script>alert(1)</script>'


def test_hostile_text_is_escaped_everywhere() -> None:
    nasty = '"><img src=x onerror=alert(1)>'
    summary = replace(
        SUMMARY,
        manifest=f"{nasty}.csv",
        case_id=HOSTILE,
        purpose="</style><script>x()</script>",
        by_level={**SUMMARY.by_level, HOSTILE: 1},
        by_pattern={HOSTILE: 5},
        manifest_only_by_pattern={},
        top=(_result(nasty, HOSTILE, 1, reasons=(HOSTILE,), answered_by=(HOSTILE,),
                     no_answer=(f"broker-1: {HOSTILE}",)),),
        nodes=(NodeStats(HOSTILE, nasty, 1, 1, {HOSTILE: 1}, [1.0]),),
    )
    html = render_report(summary)
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    page = parse(html)
    assert {tag for tag, _ in page.tags}.isdisjoint({"script", "img"})
    assert not any(name.startswith("on") for _, attrs in page.tags for name in attrs)
    assert HOSTILE in page.text("header")
    assert f"{nasty}.csv" in page.text("header")
    assert page.body("summary")[-1] == [HOSTILE, "1", "0.1 %"]
    assert page.body("patterns")[0][0] == HOSTILE
    assert f"{HOSTILE}, federation: 5" in page.svg_titles
    assert page.body("top") == [[nasty, HOSTILE, "1", HOSTILE, HOSTILE, f"broker-1: {HOSTILE}"]]
    assert page.body("nodes")[0][0] == HOSTILE
    assert page.body("nodes")[0][-1] == f"{HOSTILE}: 1 batch(es)"


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=1, max_size=30).filter(lambda s: s == s.strip(" /") and s != ""))
def test_any_reason_text_comes_back_verbatim(reason: str) -> None:
    summary = replace(SUMMARY, top=(_result("HB1", "high", 1, reasons=(reason, reason)),))
    assert parse(render_report(summary)).body("top")[0][3] == f"{reason} / {reason}"


def test_empty_run_renders_every_section() -> None:
    summary = ScreeningSummary(
        manifest="empty.csv", purpose="TARGETING", case_id="C", started_at=START,
        finished_at=START, shipments=0, by_level={}, by_pattern={}, top=(), nodes=(),
    )
    page = parse(render_report(summary))
    assert page.sections() == list(SECTIONS)
    assert page.body("summary") == [["high", "0", "—"], ["medium", "0", "—"], ["low", "0", "—"]]
    assert "No shipment was flagged" in page.text("patterns")
    assert "Nothing to chart" in page.text("chart")
    assert "No shipments" in page.text("top")
    assert "No node was asked" in page.text("nodes")
    assert "0.0 s (—)" in page.text("header")


def test_p95_is_nearest_rank() -> None:
    assert p95([3.0]) == 3.0
    assert p95([5.0, 1.0]) == 5.0
    assert p95([float(k) for k in range(1, 101)]) == 95.0
    with pytest.raises(ValueError, match="no values"):
        p95([])


def test_write_report_is_atomic(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    write_report(target, SUMMARY)
    assert target.read_text(encoding="utf-8") == render_report(SUMMARY)
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    with pytest.raises(DataError, match="does not exist; create it"):
        write_report(tmp_path / "missing" / "report.html", SUMMARY)
