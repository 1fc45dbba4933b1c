"""The README documents every CLI command, and its Quick start is the two scripts."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from fedtrade.coordinator.cli import _parser as coordinator_parser
from fedtrade.node.cli import _parser as node_parser
from fedtrade.protocol.catalogue import CATALOGUE, DESCRIBE

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def commands(parser: argparse.ArgumentParser, prefix: str) -> Iterator[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                has_children = any(isinstance(a, argparse._SubParsersAction) for a in sub._actions)
                if has_children:
                    yield from commands(sub, f"{prefix} {name}")
                else:
                    yield f"{prefix} {name}"


ALL = [*commands(node_parser(), "fedtrade-node"), *commands(coordinator_parser(), "fedtrade")]


def test_all_commands_found() -> None:
    assert "fedtrade-node serve" in ALL
    assert "fedtrade evidence verify" in ALL


@pytest.mark.parametrize("command", ALL)
def test_command_is_documented_with_an_example(command: str) -> None:
    examples = re.findall(r"```(?:console|bash|sh)?\n(.*?)```", README, flags=re.S)
    assert any(re.search(rf"(^|\n)(\$ )?{re.escape(command)}\b", block) for block in examples), (
        f"README has no example of `{command}`"
    )


def test_quick_start_is_exactly_the_two_scripts() -> None:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```(?:console|bash|sh)?\n(.*?)```", section, flags=re.S)
    lines = [line.removeprefix("$ ") for line in block.strip().splitlines()]
    assert lines == ["scripts/demo", "scripts/test"]


def _threat_model() -> str:
    section = README.split("### Threat model: what each party can learn", 1)[1]
    return section.split("\n### ", 1)[0]


@pytest.mark.parametrize("query", [*CATALOGUE, DESCRIBE])
def test_every_query_has_a_threat_model_row(query: str) -> None:
    rows = [line for line in _threat_model().splitlines() if line.startswith("| requester")]
    assert any(f"`{query}`" in row.split(" | ", 1)[0] for row in rows), (
        f"README's threat-model table has no requester row naming `{query}`")


def test_every_test_the_threat_model_names_exists() -> None:
    named = set(re.findall(r"`(tests/[\w/]+(?:\.py)?)`", _threat_model()))
    assert named, "the threat-model table names no test"
    assert not [p for p in sorted(named) if not (ROOT / p).exists()]
