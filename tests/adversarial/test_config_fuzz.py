"""Hostile and mangled configs: a ConfigError naming file and line, or success; no traceback."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedtrade.node.cli import main as node_main
from fedtrade.node.config import NodeConfig, load_node_config
from fedtrade.sim.federation import create_federation
from fedtrade.trust.errors import ConfigError
from fedtrade.trust.yamlconfig import load_yaml_text

EXAMPLES = Path(__file__).parents[2] / "configs"
ROLES = ("marketplace", "carrier", "broker")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A federation laid out like configs/ expects, with the example configs copied in."""
    federation = create_federation(tmp_path_factory.mktemp("configs") / "fed")
    for role in ROLES:
        shutil.copy(EXAMPLES / f"{role}.yaml", federation.root / f"example-{role}.yaml")
    return federation.root


def load_or_error(path: Path) -> NodeConfig | ConfigError:
    try:
        return load_node_config(path)
    except ConfigError as exc:
        error = exc
    assert error.path == str(path)
    assert error.line is not None, str(error)
    return error


def test_example_configs_load(root: Path) -> None:
    for role in ROLES:
        assert isinstance(load_or_error(root / f"example-{role}.yaml"), NodeConfig)


YAMLISH = st.text(alphabet=st.sampled_from(list("ab1:-[]{},#&*!|>'\"%@`?= \n\t\\.0x")),
                  max_size=200)


@settings(max_examples=300, deadline=None)
@given(text=YAMLISH)
def test_random_yamlish_text_is_a_config_error_with_line_or_loads(text: str) -> None:
    try:
        load_yaml_text(text, "fuzz.yaml")
    except ConfigError as exc:
        error = exc
    else:
        return
    assert error.path == "fuzz.yaml"
    assert error.line is not None, str(error)


HOSTILE = st.sampled_from([
    "[" * 5000 + "]" * 5000, "9" * 5000, "9" * 400, "0x" + "f" * 3000, "-1", "1e999",
    "{a: {b: {c: {d: 1}}}}", "~", "''", "\"\\u0000\"", "!!python/object:os.system x",
    "&a x", "*a", "<<: {}", "a" * 5000, "2026-02-30", "[]", "{}",
])


@st.composite
def mutations(draw: st.DrawFn, text: str) -> str:
    lines = text.split("\n")
    kind = draw(st.sampled_from(["truncate", "delete", "duplicate", "insert", "replace"]))
    at = draw(st.integers(0, len(lines) - 1))
    if kind == "truncate":  # a half-written file
        return text[: draw(st.integers(0, len(text)))]
    if kind == "delete":
        del lines[at : at + draw(st.integers(1, 5))]
    elif kind == "duplicate":
        lines.insert(at, lines[at])
    elif kind == "insert":
        lines.insert(at, draw(st.one_of(YAMLISH, HOSTILE)))
    else:
        key, sep, _ = lines[at].partition(":")
        if sep:
            lines[at] = f"{key}: {draw(HOSTILE)}"
    return "\n".join(lines)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), role=st.sampled_from(ROLES))
def test_mutated_example_configs_fail_closed(root: Path, data: st.DataObject, role: str) -> None:
    original = load_node_config(root / f"example-{role}.yaml")
    text = (root / f"example-{role}.yaml").read_text()
    path = root / f"mutated-{role}.yaml"
    path.write_text(data.draw(mutations(text)))
    result = load_or_error(path)
    if isinstance(result, NodeConfig):  # a mangled file that still loads never grants more
        for requester_id, requester in result.requesters.items():
            granted = original.requesters.get(requester_id)
            if granted is None:
                continue
            for name, grant in requester.grants.items():
                if name in granted.grants:
                    assert set(grant.fields) <= set(granted.grants[name].fields)


@pytest.mark.parametrize(
    "case", ["deep-list", "long-integer", "config-fifo", "config-dev-zero", "key-fifo"])
def test_config_check_prints_one_line_for_hostile_inputs(
    root: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    good = (root / "example-carrier.yaml").read_text()
    path = named = root / f"{case}.yaml"
    if case == "deep-list":
        path.write_text(good + "extra: " + "[" * 50_000 + "]" * 50_000 + "\n")
    elif case == "long-integer":
        path.write_text(good.replace("version: 1", "version: " + "9" * 5000))
    elif case == "config-fifo":
        os.mkfifo(path)
    elif case == "config-dev-zero":
        path = named = Path("/dev/zero")
    else:
        named = root / "keys" / "fifo.key"  # the error names the key file
        os.mkfifo(named, 0o600)
        path.write_text(good.replace("signing_key: keys/carrier-1.key",
                                     "signing_key: keys/fifo.key"))
    assert node_main(["config", "check", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"error: {named}")
    assert "Traceback" not in err
