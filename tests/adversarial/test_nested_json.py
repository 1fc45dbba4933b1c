"""JSON nested deeper than Python's recursion limit, in every file fedtrade reads JSON
from that someone else writes: refused as the wrong file, naming it (and the line), never
reported as a bug in fedtrade."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedtrade.coordinator.attested import load_attested
from fedtrade.coordinator.scorecard_files import verify_scorecard
from fedtrade.protocol.attestation import read_attestations
from fedtrade.protocol.envelope_files import read_envelope_lines
from fedtrade.protocol.json_text import parse_json
from fedtrade.trust.errors import DataError, FedtradeError
from fedtrade.trust.keys import SigningKey

DEEP = "[" * 200_000 + "]" * 200_000


@pytest.fixture
def deep(tmp_path: Path) -> Path:
    path = tmp_path / "deep.jsonl"
    path.write_text("\n" + DEEP + "\n")  # on line 2
    return path


def test_parse_json_calls_it_a_value_error() -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        parse_json(DEEP)
    assert parse_json('{"a": [1]}') == {"a": [1]}


def test_an_attestation_file(deep: Path) -> None:
    expected = rf"{deep}:2: not a signed manifest block \(ValueError: arrays or objects nested"
    with pytest.raises(DataError, match=expected):
        load_attested(deep, {})  # what `fedtrade screen --attestations` reads
    with pytest.raises(DataError, match=expected):
        read_attestations(deep)


def test_an_envelope_file(deep: Path) -> None:
    with pytest.raises(FedtradeError, match=rf"{deep}, line 2: not a checkpoint envelope"):
        read_envelope_lines(deep, "checkpoint")


def test_a_scorecard_file(deep: Path) -> None:
    with pytest.raises(DataError, match=rf"{deep}: not a scorecard file written by fedtrade"):
        verify_scorecard(deep, SigningKey.generate().public_key)
