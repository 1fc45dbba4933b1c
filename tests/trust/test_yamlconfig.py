from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from fedtrade.trust.errors import ConfigError
from fedtrade.trust.yamlconfig import ConfigMapping, load_yaml, load_yaml_text

NODE_YAML = """\
version: 3
node:
  id: marketplace-1
  port: 8443
  quoted_port: "8443"
  database: data/node.db
  absolute: /var/lib/fedtrade/node.db
  debug: false
  ratio: 1
  share: 0.25
requesters:
  cbp:
    purposes: [risk, audit]
    rate_limit:
      per_minute: lots
  other:
    purposes: []
    rate_limit:
      per_minute: 10
listeners:
  - address: 127.0.0.1
  - address: 10.0.0.1
    extra: 1
empty:
"""


def load(text: str, path: str = "configs/node.yaml") -> ConfigMapping:
    return load_yaml_text(text, path)


def config_error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(text)
    return info.value


def test_typed_accessors_follow_yaml_tags() -> None:
    node = load(NODE_YAML).mapping("node")
    assert node.text("id") == "marketplace-1"
    assert node.integer("port") == 8443
    assert node.text("quoted_port") == "8443"
    assert node.flag("debug") is False
    assert node.number("ratio") == 1.0
    assert isinstance(node.number("ratio"), float)
    assert node.number("share", min=0, max=1) == 0.25
    assert node.choice("id", {"marketplace-1", "carrier-1"}) == "marketplace-1"


def test_full_error_message_names_file_line_and_dotted_key() -> None:
    cbp = load(NODE_YAML).mapping("requesters").mapping("cbp")
    with pytest.raises(ConfigError) as info:
        cbp.mapping("rate_limit").integer("per_minute")
    assert str(info.value) == (
        "configs/node.yaml:15: requesters.cbp.rate_limit.per_minute: "
        "expected an integer, got 'lots'"
    )
    assert (info.value.path, info.value.line) == ("configs/node.yaml", 15)
    assert info.value.key == "requesters.cbp.rate_limit.per_minute"


@pytest.mark.parametrize(
    ("accessor", "key", "expected"),
    [
        (lambda m, k: m.integer(k), "quoted_port", "expected an integer, got '8443'"),
        (lambda m, k: m.integer(k), "debug", "expected an integer, got 'false'"),
        (lambda m, k: m.text(k), "port", "expected a string, got '8443'; put it in quotes"),
        (lambda m, k: m.flag(k), "id", "expected true or false, got 'marketplace-1'"),
        (lambda m, k: m.number(k), "id", "expected a number, got 'marketplace-1'"),
        (lambda m, k: m.text_list(k), "id", "expected a list of strings"),
        (lambda m, k: m.mapping(k), "port", "expected a mapping, got '8443'"),
        (lambda m, k: m.mapping_list(k), "id", "expected a list of mappings"),
        (lambda m, k: m.choice(k, ["a", "b"]), "id", "expected one of a, b, got"),
        (lambda m, k: m.integer(k, max=100), "port", "must be at most 100, got '8443'"),
        (lambda m, k: m.integer(k, min=9000), "port", "must be at least 9000"),
        (lambda m, k: m.number(k, max=0.1), "share", "must be at most 0.1"),
    ],
)
def test_wrong_types_and_ranges_are_refused_at_the_value(
    accessor: Callable[[ConfigMapping, str], object], key: str, expected: str
) -> None:
    config = load(NODE_YAML)
    node = config.mapping("node")
    with pytest.raises(ConfigError, match=r"^configs/node\.yaml:") as info:
        accessor(node, key)
    assert expected in info.value.reason
    assert info.value.line == node.line_of(key)
    assert info.value.key == f"node.{key}"


def test_str_list_items_are_checked_one_by_one() -> None:
    config = load("names: [a, 2, c]\nfine: [x]\n")
    assert config.text_list("fine") == ["x"]
    with pytest.raises(ConfigError, match=r"names\[1\]: expected a string, got '2'"):
        config.text_list("names")


def test_long_values_are_truncated_in_messages() -> None:
    config = load("port: " + "9" * 30 + "x" * 100 + "\n")
    with pytest.raises(ConfigError) as info:
        config.integer("port")
    assert info.value.reason.endswith("...'")
    assert len(info.value.reason) < 100


def test_non_finite_floats_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"expected a finite number, got '\.nan'"):
        load("x: .nan\n").number("x")


def test_missing_required_key_is_reported_at_the_mapping() -> None:
    config = load(NODE_YAML)
    with pytest.raises(ConfigError) as info:
        config.mapping("node").text("listen")
    assert str(info.value) == "configs/node.yaml:2: node: missing required key 'listen'"
    with pytest.raises(ConfigError, match=r"^configs/node\.yaml:1: missing required key 'tls'$"):
        config.mapping("tls")


def test_defaults_apply_only_to_absent_keys() -> None:
    config = load(NODE_YAML)
    assert config.integer("workers", 4) == 4
    assert config.text("name", None) is None
    assert config.optional_mapping("tls") is None
    assert config.mapping_list("routes", []) == []
    assert config.text_list("tags", ["a"]) == ["a"]
    with pytest.raises(ConfigError, match=r":24: empty: missing value; give a value, or remove"):
        config.integer("empty", 3)
    with pytest.raises(ConfigError, match=r":24: empty: missing value; give a value$"):
        config.text("empty")


def test_items_and_mapping_list_name_their_position() -> None:
    config = load(NODE_YAML)
    requesters = config.mapping("requesters").items()
    assert [name for name, _ in requesters] == ["cbp", "other"]
    other = requesters[1][1]
    assert other.where == "requesters.other"
    assert other.line == 16
    assert other.text_list("purposes") == []
    listeners = config.mapping_list("listeners")
    assert [entry.where for entry in listeners] == ["listeners[0]", "listeners[1]"]
    assert listeners[1].line == 22
    for entry in listeners:
        entry.text("address")
    listeners[0].finish()
    with pytest.raises(ConfigError, match=r":23: listeners\[1\]\.extra: unknown key 'extra'"):
        listeners[1].finish()


def test_items_refuses_non_mapping_values() -> None:
    with pytest.raises(ConfigError, match=r":2: requesters.bad: expected a mapping, got 'x'"):
        load("requesters:\n  bad: x\n").mapping("requesters").items()


def test_path_is_resolved_relative_to_the_config_file(tmp_path: Path) -> None:
    config_file = tmp_path / "configs" / "node.yaml"
    config_file.parent.mkdir()
    config_file.write_text(NODE_YAML)
    node = load_yaml(config_file).mapping("node")
    assert node.path("database") == tmp_path / "configs" / "data" / "node.db"
    assert node.path("absolute") == Path("/var/lib/fedtrade/node.db")
    assert node.path("tls_cert", None) is None
    with pytest.raises(ConfigError, match="empty string"):
        load("p: ''\n").path("p")


def test_finish_refuses_unread_keys_and_suggests_the_read_ones() -> None:
    config = load("version: 1\nqeuries: [a]\nnode: {id: n}\n")
    config.integer("version")
    config.text_list("queries", [])
    config.mapping("node").text("id")
    with pytest.raises(ConfigError) as info:
        config.finish()
    assert str(info.value) == (
        "configs/node.yaml:2: qeuries: unknown key 'qeuries' (did you mean 'queries'?); "
        "allowed keys here: node, queries, version"
    )


def test_finish_checks_every_handed_out_mapping() -> None:
    config = load("node:\n  id: n\n  tpyo: 1\n")
    config.mapping("node").text("id")
    with pytest.raises(ConfigError, match=r"^configs/node.yaml:3: node.tpyo: unknown key 'tpyo'"):
        config.finish()


def test_finish_passes_when_everything_was_read() -> None:
    config = load("version: 1\nnode:\n  id: n\n")
    config.integer("version")
    config.mapping("node").text("id")
    config.mapping("node")
    config.finish()


def test_keys_has_and_line_of() -> None:
    config = load(NODE_YAML)
    assert config.keys() == ["version", "node", "requesters", "listeners", "empty"]
    assert config.has("node")
    assert not config.has("tls")
    assert config.line_of("requesters") == 11
    assert config.line_of("absent") == config.line == 1
    error = config.mapping("node").error("listen address is in use", "port")
    assert str(error) == "configs/node.yaml:4: node.port: listen address is in use"


def test_duplicate_key_at_top_level() -> None:
    error = config_error("version: 1\nnode: {}\nversion: 2\n")
    assert (error.line, error.key) == (3, "version")
    assert error.reason.startswith("duplicate key 'version' (first defined on line 1)")


def test_duplicate_key_nested() -> None:
    error = config_error(
        "requesters:\n  cbp:\n    rate_limit:\n      per_minute: 10\n"
        "      burst: 2\n      per_minute: 1000\n"
    )
    assert str(error).startswith(
        "configs/node.yaml:6: requesters.cbp.rate_limit.per_minute: "
        "duplicate key 'per_minute' (first defined on line 4)"
    )


def test_duplicate_key_inside_a_list_item() -> None:
    error = config_error("keys:\n  - file: a.pub\n    file: b.pub\n")
    assert (error.line, error.key) == (3, "keys[0].file")


def test_aliases_and_anchors_are_refused() -> None:
    error = config_error("base: &defaults\n  rate: 1\nother: *defaults\n")
    assert error.line == 1
    assert "anchors and aliases are not allowed" in error.reason
    error = config_error("a: 1\nb: *undefined\n")
    assert error.line == 2
    assert "'*undefined'" in error.reason


def test_merge_keys_are_refused() -> None:
    error = config_error("other:\n  <<: {rate: 1}\n  name: x\n")
    assert (error.line, error.key) == (2, "other")
    assert "merge key '<<' is not allowed" in error.reason


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: 1\nb: [1, 2\nc: 3\n", 3),
        ("a: 1\n  b: 2\n", 2),
        ("a: 1\nb:\n\tc: 1\n", 3),
        ("a: 1\n---\nb: 2\n", 2),
        ("a: 1\nb: \x07\n", 2),
    ],
)
def test_syntax_errors_name_the_line(text: str, line: int) -> None:
    error = config_error(text)
    assert error.line == line
    assert error.reason.startswith("invalid YAML: ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "config is empty"),
        ("- a\n- b\n", "top level must be a mapping"),
        ("80: http\n", "keys must be strings, got '80'"),
        ("? [a, b]\n: 1\n", "keys must be strings, got a list"),
        ("a: !!python/object:os.system x\n", "is not allowed"),
        ("a: !custom x\n", "YAML tag '!custom' is not allowed"),
        ("a: !!binary aGk=\n", "is not allowed"),
    ],
)
def test_refused_documents(text: str, expected: str) -> None:
    assert expected in config_error(text).reason


def test_load_yaml_reports_missing_and_unreadable_files(tmp_path: Path) -> None:
    missing = tmp_path / "node.yaml"
    with pytest.raises(ConfigError, match="config file not found") as info:
        load_yaml(missing)
    assert info.value.path == str(missing)
    with pytest.raises(ConfigError, match="config file is a directory, not a regular file"):
        load_yaml(tmp_path)
    missing.write_bytes(b"a: \xff\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_yaml(missing)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of mode")
def test_load_yaml_reports_permission_denied(tmp_path: Path) -> None:
    path = tmp_path / "node.yaml"
    path.write_text("a: 1\n")
    path.chmod(0)
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_yaml(path)


def test_load_yaml_round_trip_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "node.yaml"
    path.write_bytes(b"\xef\xbb\xbfversion: 2\n")
    config = load_yaml(path)
    assert config.file == str(path)
    assert config.integer("version") == 2


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        ("version: " + "9" * 5000 + "\n", 1, "a value of 5000 characters is longer than the 4096"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", 1, "nested more than 32 levels deep"),
        ("a:\n" + "".join(" " * i + "b:\n" for i in range(1, 100)), 32, "nested more than 32"),
        ("k" * 300 + ": 1\n", 1, "a key of 300 characters is longer than the 256"),
    ],
    ids=["long-integer", "deep-list", "deep-mapping", "long-key"],
)
def test_oversized_or_deep_yaml_is_a_config_error_with_line(
    text: str, line: int, expected: str
) -> None:
    error = config_error(text)
    assert expected in error.reason
    assert error.line == line


def test_integers_too_large_for_a_float_or_python_are_config_errors() -> None:
    root = load_yaml_text("big: " + "9" * 400 + "\nversion: 0x" + "f" * 4000 + "\n", "c.yaml")
    with pytest.raises(ConfigError, match="expected a finite number") as info:
        root.number("big")
    assert info.value.line == 1
    with pytest.raises(ConfigError, match="must be at most"):
        root.integer("version", max=2**53)
    # Python's digit limit can be lowered (PYTHONINTMAXSTRDIGITS); a long integer is then
    # still a ConfigError, not ValueError.
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(640)
    try:
        root = load_yaml_text("version: " + "7" * 1000 + "\n", "c.yaml")
        with pytest.raises(ConfigError, match="an integer with fewer digits") as info:
            root.integer("version")
        assert info.value.line == 1
    finally:
        sys.set_int_max_str_digits(limit)


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "too-large"])
def test_config_path_that_is_not_a_small_regular_file_fails_at_once(
    tmp_path: Path, kind: str
) -> None:
    if kind == "fifo":
        path = tmp_path / "node.yaml"
        os.mkfifo(path)  # a plain open() would block here until a writer appears
        expected = r"is a FIFO \(named pipe\), not a regular file"
    elif kind == "dev-zero":
        path = Path("/dev/zero")  # a plain read() would never end
        expected = "is a character device, not a regular file"
    else:
        path = tmp_path / "node.yaml"
        path.write_bytes(b"# padding\n" * 200_000)
        expected = "is larger than 1048576 bytes"
    with pytest.raises(ConfigError, match=expected) as info:
        load_yaml(path)
    assert info.value.path == str(path)


def test_a_path_with_a_nul_character_is_refused_at_its_line() -> None:
    # found by the config fuzzer: os.open raised ValueError on such a path
    config = load('tls:\n  cert: "keys/a\\u0000b"\n')
    tls = config.mapping("tls")
    with pytest.raises(ConfigError, match="NUL character") as info:
        tls.path("cert")
    assert info.value.line == 2
