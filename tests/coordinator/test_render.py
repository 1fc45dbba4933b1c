"""How `fedtrade query` shows a differentially private answer."""

from __future__ import annotations

from rich.console import Console

from fedtrade.coordinator.client import VerifiedAnswer
from fedtrade.coordinator.render import answer_table
from fedtrade.protocol.tables import encode_rows
from fedtrade.protocol.wire import PyValue
from fedtrade.protos import query_pb2

COLUMNS = ("week", "shipments", "shipments_pm95", "value_usd", "value_usd_pm95", "mechanism",
           "epsilon", "delta", "budget_remaining")


def shown(rows: list[tuple[PyValue, ...]], columns: tuple[str, ...] = COLUMNS) -> str:
    answer = query_pb2.Answer(table=encode_rows(columns, rows))
    result = VerifiedAnswer("broker-1", query_pb2.Query(query_name="trade_statistics"), answer)
    console = Console(width=400, record=True)
    console.print(answer_table(result))
    return console.export_text()


def test_privacy_facts_and_wide_intervals_are_shown() -> None:
    text = shown([
        ("2025-W01", 950, 25, 166438.86, 47931.73, "discrete_laplace", 0.5, 1e-7, 4.5),
        ("*", 12, 25, -310.5, 47931.73, "discrete_laplace", 0.5, 1e-7, 4.5),
    ])
    assert "epsilon 0.5 spent, budget remaining 4.5" in text
    assert "95 % interval" in text
    week, total = (line for line in text.splitlines() if "discrete_laplace │" in line)
    assert "±>value" not in week
    assert total.count("(±>value)") == 2  # 12 ± 25 and -310.5 ± 47931.73


def test_other_answers_are_shown_unmarked() -> None:
    text = shown([("HB1", True)], ("house_bill", "known"))
    assert "±" not in text
    assert "privacy" not in text
