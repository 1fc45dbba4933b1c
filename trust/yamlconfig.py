"""Strict YAML config reading: every error names the file, line and key.

PyYAML keeps the last of two duplicate keys and expands anchors and merge
keys silently. Configs here are security policy, so the loader refuses all of
that and hands out a ``ConfigMapping`` whose typed accessors check each value
and whose ``finish()`` refuses keys nobody asked for (typos).
"""

from __future__ import annotations

import datetime
import difflib
import enum
import math
from collections.abc import Collection
from pathlib import Path
from typing import TypeVar, overload

import yaml
import yaml.reader
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, CollectionStartEvent, Event, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from fedtrade.trust.errors import ConfigError
from fedtrade.trust.files import MAX_CONFIG_BYTES, FileShapeError, read_capped

__all__ = ["ConfigMapping", "load_yaml", "load_yaml_text"]

_T = TypeVar("_T")

_TAG = "tag:yaml.org,2002:"
_STR = _TAG + "str"
_INT = _TAG + "int"
_FLOAT = _TAG + "float"
_BOOL = _TAG + "bool"
_NULL = _TAG + "null"
_TIMESTAMP = _TAG + "timestamp"
_MERGE = _TAG + "merge"
_ALLOWED_TAGS = frozenset(
    {_STR, _INT, _FLOAT, _BOOL, _NULL, _TAG + "timestamp", _TAG + "seq", _TAG + "map"}
)
_SHOWN_CHARS = 40
# Bounds on what a config may hold: PyYAML composes nested collections recursively,
# and Python refuses to convert integers of more than 4,300 digits.
MAX_DEPTH = 32
MAX_KEY_CHARS = 256
MAX_VALUE_CHARS = 4096  # a long file path fits
_CONSTRUCTOR = SafeConstructor()


class _Missing(enum.Enum):
    MISSING = enum.auto()


_MISSING = _Missing.MISSING


def _line(node: Node) -> int:
    return node.start_mark.line + 1


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses anchors and aliases while composing."""

    def __init__(self, text: str, path: str) -> None:
        super().__init__(text)
        self.config_path = path
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event: Event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in stubs
        line = event.start_mark.line + 1 if event.start_mark is not None else None
        if self._depth >= MAX_DEPTH:
            raise ConfigError(
                f"values are nested more than {MAX_DEPTH} levels deep; no fedtrade config "
                "nests that deep: check the brackets and indentation",
                path=self.config_path,
                line=line,
            )
        found = None
        if isinstance(event, AliasEvent):
            found = f"*{event.anchor}"
        elif isinstance(event, ScalarEvent | CollectionStartEvent) and event.anchor is not None:
            found = f"&{event.anchor}"
        if found is not None:
            raise ConfigError(
                f"YAML anchors and aliases are not allowed (found '{found}'): configs are "
                "security policy and must be explicit; write the values out in full",
                path=self.config_path,
                line=line,
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_yaml(path: Path) -> ConfigMapping:
    """Read and strictly parse a YAML config file whose root is a mapping."""
    try:
        text = read_capped(path, MAX_CONFIG_BYTES).decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(
            "config file not found; check the path or start from an example in configs/",
            path=path,
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file is not UTF-8 text (byte {exc.start}); save it as UTF-8", path=path
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file: {exc.strerror}; check that it is a readable file",
            path=path,
        ) from None
    except FileShapeError as exc:
        raise ConfigError(f"config file {exc}", path=path) from None
    return load_yaml_text(text, str(path))


def load_yaml_text(text: str, path: str) -> ConfigMapping:
    """Strictly parse YAML ``text``; ``path`` names it in errors and anchors relative paths."""
    try:
        loader = _StrictLoader(text, path)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = ", ".join(part for part in (exc.context, exc.problem) if part)
        raise ConfigError(
            f"invalid YAML: {problem or 'syntax error'}; fix the syntax at this line",
            path=path,
            line=mark.line + 1 if mark is not None else None,
        ) from None
    except yaml.reader.ReaderError as exc:
        raise ConfigError(
            f"invalid YAML: character U+{exc.character:04X} is not allowed in YAML text; "
            "remove it or write it as an escape in a double-quoted string",
            path=path,
            line=text.count("\n", 0, exc.position) + 1,
        ) from None
    if root is None:
        raise ConfigError(
            "config is empty; it must be a mapping of keys to values", path=path, line=1
        )
    if not isinstance(root, MappingNode):
        raise ConfigError(
            f"the top level must be a mapping of keys to values, got {_describe(root)}",
            path=path,
            line=_line(root),
        )
    _check_tree(root, path, "")
    return ConfigMapping(root, path)


def _check_tree(node: Node, path: str, where: str) -> None:
    """Refuse duplicate keys, merge keys, non-string keys and unusual tags, at any depth."""
    if node.tag not in _ALLOWED_TAGS:
        raise ConfigError(
            f"YAML tag {node.tag!r} is not allowed; write a plain value (quote it if it is text)",
            path=path,
            line=_line(node),
            key=where or None,
        )
    if isinstance(node, ScalarNode) and len(node.value) > MAX_VALUE_CHARS:
        raise ConfigError(
            f"a value of {len(node.value)} characters is longer than the {MAX_VALUE_CHARS} "
            "allowed; shorten it",
            path=path,
            line=_line(node),
            key=where or None,
        )
    if isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            _check_tree(item, path, f"{where}[{index}]")
    elif isinstance(node, MappingNode):
        first_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                raise ConfigError(
                    "merge key '<<' is not allowed: configs are security policy and must be "
                    "explicit; write the merged keys out in full",
                    path=path,
                    line=_line(key_node),
                    key=where or None,
                )
            if not isinstance(key_node, ScalarNode) or key_node.tag != _STR:
                raise ConfigError(
                    f"keys must be strings, got {_describe(key_node)}; quote the key",
                    path=path,
                    line=_line(key_node),
                    key=where or None,
                )
            key = key_node.value
            if len(key) > MAX_KEY_CHARS:
                raise ConfigError(
                    f"a key of {len(key)} characters is longer than the {MAX_KEY_CHARS} "
                    "allowed; shorten it",
                    path=path,
                    line=_line(key_node),
                    key=where or None,
                )
            dotted = _join(where, key)
            if key in first_lines:
                raise ConfigError(
                    f"duplicate key '{key}' (first defined on line {first_lines[key]}); "
                    "remove one of them",
                    path=path,
                    line=_line(key_node),
                    key=dotted,
                )
            first_lines[key] = _line(key_node)
            _check_tree(value_node, path, dotted)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _NULL:
        return "an empty value"
    text = str(node.value)
    if len(text) > _SHOWN_CHARS:
        text = text[:_SHOWN_CHARS] + "..."
    return repr(text)


class ConfigMapping:
    """One YAML mapping of a config file, read through typed accessors.

    ``file`` is the config file, ``where`` the dotted key path of this mapping
    (empty at the top level). Accessors raise ``ConfigError`` naming file,
    line and key. A value that is present but empty (``key:``) is an error
    even where a default exists: remove the key to get the default.
    Defaults are returned unchanged.
    """

    def __init__(
        self,
        node: MappingNode,
        file: str,
        where: str = "",
        *,
        line: int | None = None,
    ) -> None:
        self.node = node
        self.file = file
        self.where = where
        self._line = line if line is not None else _line(node)
        self._entries: dict[str, tuple[Node, Node]] = {
            key_node.value: (key_node, value_node) for key_node, value_node in node.value
        }
        self._asked: set[str] = set()
        # Handed-out child mappings by key, so asking twice shares one record of reads.
        self._children: dict[str, ConfigMapping] = {}

    def __repr__(self) -> str:
        return f"ConfigMapping(file={self.file!r}, where={self.where!r}, line={self._line})"

    @property
    def line(self) -> int:
        """The line of this mapping (of its key in the parent, when it has one)."""
        return self._line

    def keys(self) -> list[str]:
        return list(self._entries)

    def has(self, key: str) -> bool:
        return key in self._entries

    def line_of(self, key: str) -> int:
        """The line of ``key``, or of this mapping when the key is absent."""
        entry = self._entries.get(key)
        return _line(entry[0]) if entry is not None else self._line

    def error(self, message: str, key: str | None = None) -> ConfigError:
        """A ``ConfigError`` at ``key`` (or at this mapping), for checks done by callers."""
        if key is None:
            return ConfigError(message, path=self.file, line=self._line, key=self.where or None)
        return ConfigError(message, path=self.file, line=self.line_of(key), key=self._key(key))

    @overload
    def text(self, key: str) -> str: ...
    @overload
    def text(self, key: str, default: _T) -> str | _T: ...
    def text(self, key: str, default: object = _MISSING) -> object:
        node = self._value(key, default)
        if node is None:
            return default
        return self._as_str(node, key)

    @overload
    def integer(
        self,
        key: str,
        *,
        min: int | None = None,
        max: int | None = None,
    ) -> int: ...
    @overload
    def integer(
        self,
        key: str,
        default: _T,
        *,
        min: int | None = None,
        max: int | None = None,
    ) -> int | _T: ...
    def integer(
        self,
        key: str,
        default: object = _MISSING,
        *,
        min: int | None = None,
        max: int | None = None,
    ) -> object:
        node = self._value(key, default)
        if node is None:
            return default
        if not isinstance(node, ScalarNode) or node.tag != _INT:
            raise self._type_error(key, node, "an integer")
        value = self._as_int(node, key)
        self._check_range(key, node, value, min, max)
        return value

    @overload
    def number(
        self,
        key: str,
        *,
        min: float | None = None,
        max: float | None = None,
    ) -> float: ...
    @overload
    def number(
        self,
        key: str,
        default: _T,
        *,
        min: float | None = None,
        max: float | None = None,
    ) -> float | _T: ...
    def number(
        self,
        key: str,
        default: object = _MISSING,
        *,
        min: float | None = None,
        max: float | None = None,
    ) -> object:
        node = self._value(key, default)
        if node is None:
            return default
        value = self._as_float(node, key)
        self._check_range(key, node, value, min, max)
        return value

    def moment(self, key: str) -> datetime.datetime | None:
        """An optional date (midnight UTC) or ISO date-time (UTC if it names no zone)."""
        node = self._value(key, None)
        if node is None:
            return None
        if not isinstance(node, ScalarNode) or node.tag not in (_TIMESTAMP, _STR):
            raise self._type_error(key, node, "a date such as 2026-12-31 or 2026-12-31T23:59:59Z")
        try:
            value = datetime.datetime.fromisoformat(str(node.value).replace("Z", "+00:00"))
        except ValueError:
            raise self._type_error(
                key, node, "a date such as 2026-12-31 or 2026-12-31T23:59:59Z") from None
        return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)

    def scalar_list(
        self, key: str
    ) -> tuple[str | int | float | bool, ...]:
        """A required list of plain values (text, numbers, true/false), each kept in its type."""
        node = self._value(key, _MISSING)
        assert node is not None  # required keys are never absent here
        if not isinstance(node, SequenceNode) or not node.value:
            raise self._type_error(key, node, "a non-empty list of values")
        values: list[str | int | float | bool] = []
        for index, item in enumerate(node.value):
            where = f"{key}[{index}]"
            if not isinstance(item, ScalarNode) or item.tag not in (_STR, _INT, _FLOAT, _BOOL):
                raise self._type_error(where, item, "text, a number or true/false")
            if item.tag == _STR:
                values.append(str(item.value))
            elif item.tag == _BOOL:
                values.append(_CONSTRUCTOR.construct_yaml_bool(item))
            elif item.tag == _INT:
                values.append(self._as_int(item, where))
            else:
                values.append(self._as_float(item, where))
        return tuple(values)

    def number_list(self, key: str) -> list[float]:
        """A required list of numbers."""
        node = self._value(key, _MISSING)
        assert node is not None  # required keys are never absent here
        if not isinstance(node, SequenceNode):
            raise self._type_error(key, node, "a list of numbers")
        return [self._as_float(item, f"{key}[{i}]") for i, item in enumerate(node.value)]

    def _as_int(self, node: ScalarNode, key: str) -> int:
        try:
            value: int = _CONSTRUCTOR.construct_yaml_int(node)
        except ValueError:  # Python refuses to convert very long decimal integers
            raise self._type_error(key, node, "an integer with fewer digits") from None
        return value

    def _as_float(self, node: Node, key: str) -> float:
        if not isinstance(node, ScalarNode) or node.tag not in (_INT, _FLOAT):
            raise self._type_error(key, node, "a number")
        try:
            value: float = (
                float(self._as_int(node, key))
                if node.tag == _INT
                else _CONSTRUCTOR.construct_yaml_float(node)
            )
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            raise self._type_error(key, node, "a finite number")
        return value

    @overload
    def flag(self, key: str) -> bool: ...
    @overload
    def flag(self, key: str, default: _T) -> bool | _T: ...
    def flag(self, key: str, default: object = _MISSING) -> object:
        node = self._value(key, default)
        if node is None:
            return default
        if not isinstance(node, ScalarNode) or node.tag != _BOOL:
            raise self._type_error(key, node, "true or false")
        return _CONSTRUCTOR.construct_yaml_bool(node)

    @overload
    def text_list(self, key: str) -> list[str]: ...
    @overload
    def text_list(self, key: str, default: _T) -> list[str] | _T: ...
    def text_list(self, key: str, default: object = _MISSING) -> object:
        node = self._value(key, default)
        if node is None:
            return default
        if not isinstance(node, SequenceNode):
            raise self._type_error(key, node, "a list of strings")
        return [self._as_str(item, f"{key}[{index}]") for index, item in enumerate(node.value)]

    @overload
    def choice(self, key: str, options: Collection[str]) -> str: ...
    @overload
    def choice(
        self, key: str, options: Collection[str], default: _T
    ) -> str | _T: ...
    def choice(
        self, key: str, options: Collection[str], default: object = _MISSING
    ) -> object:
        node = self._value(key, default)
        if node is None:
            return default
        value = self._as_str(node, key)
        if value not in options:
            allowed = ", ".join(sorted(options))
            raise self._error_at(node, key, f"expected one of {allowed}, got {_describe(node)}")
        return value

    @overload
    def path(self, key: str) -> Path: ...
    @overload
    def path(self, key: str, default: _T) -> Path | _T: ...
    def path(self, key: str, default: object = _MISSING) -> object:
        """A file path; relative paths are relative to the config file's directory."""
        node = self._value(key, default)
        if node is None:
            return default
        value = self._as_str(node, key)
        if not value:
            raise self._error_at(node, key, "expected a file path, got an empty string")
        if "\0" in value:
            raise self._error_at(node, key, "a file path cannot hold a NUL character")
        return Path(self.file).parent / value

    def mapping(self, key: str) -> ConfigMapping:
        node = self._value(key, _MISSING)
        assert node is not None
        return self._child(key, node, line=self.line_of(key))

    def optional_mapping(self, key: str) -> ConfigMapping | None:
        node = self._value(key, None)
        return None if node is None else self._child(key, node, line=self.line_of(key))

    @overload
    def mapping_list(self, key: str) -> list[ConfigMapping]: ...
    @overload
    def mapping_list(self, key: str, default: _T) -> list[ConfigMapping] | _T: ...
    def mapping_list(self, key: str, default: object = _MISSING) -> object:
        node = self._value(key, default)
        if node is None:
            return default
        if not isinstance(node, SequenceNode):
            raise self._type_error(key, node, "a list of mappings")
        return [self._child(f"{key}[{index}]", item) for index, item in enumerate(node.value)]

    def items(self) -> list[tuple[str, ConfigMapping]]:
        """Every entry of a mapping whose values are all mappings (e.g. requesters by id)."""
        result = []
        for key, (key_node, value_node) in self._entries.items():
            self._asked.add(key)
            result.append((key, self._child(key, value_node, line=_line(key_node))))
        return result

    def finish(self) -> None:
        """Refuse the first key no accessor asked for, here and in every mapping handed out."""
        for key, (key_node, _value) in self._entries.items():
            if key in self._asked:
                continue
            message = f"unknown key '{key}'"
            close = difflib.get_close_matches(key, self._asked, n=1)
            if close:
                message += f" (did you mean '{close[0]}'?)"
            allowed = ", ".join(sorted(self._asked)) or "none"
            raise ConfigError(
                f"{message}; allowed keys here: {allowed}",
                path=self.file,
                line=_line(key_node),
                key=self._key(key),
            )
        for child in self._children.values():
            child.finish()

    def _key(self, key: str) -> str:
        return _join(self.where, key)

    def _value(self, key: str, default: object) -> Node | None:
        """The value node of ``key``; None when absent and a default exists."""
        self._asked.add(key)
        entry = self._entries.get(key)
        if entry is None:
            if default is _MISSING:
                raise ConfigError(
                    f"missing required key '{key}'",
                    path=self.file,
                    line=self._line,
                    key=self.where or None,
                )
            return None
        node = entry[1]
        if node.tag == _NULL:
            hint = "" if default is _MISSING else ", or remove the key to use the default"
            raise self._error_at(node, key, f"missing value; give a value{hint}")
        return node

    def _as_str(self, node: Node, key: str) -> str:
        if not isinstance(node, ScalarNode) or node.tag != _STR:
            hint = "; put it in quotes to use it as text" if isinstance(node, ScalarNode) else ""
            raise self._type_error(key, node, "a string", hint)
        return str(node.value)

    def _child(
        self, key: str, node: Node, *, line: int | None = None
    ) -> ConfigMapping:
        known = self._children.get(key)
        if known is not None:
            return known
        if not isinstance(node, MappingNode):
            raise self._type_error(key, node, "a mapping")
        child = ConfigMapping(node, self.file, self._key(key), line=line)
        self._children[key] = child
        return child

    def _check_range(
        self,
        key: str,
        node: Node,
        value: float,
        low: float | None,
        high: float | None,
    ) -> None:
        if low is not None and value < low:
            raise self._error_at(node, key, f"must be at least {low}, got {_describe(node)}")
        if high is not None and value > high:
            raise self._error_at(node, key, f"must be at most {high}, got {_describe(node)}")

    def _type_error(
        self, key: str, node: Node, expected: str, hint: str = ""
    ) -> ConfigError:
        return self._error_at(node, key, f"expected {expected}, got {_describe(node)}{hint}")

    def _error_at(self, node: Node, key: str, message: str) -> ConfigError:
        return ConfigError(message, path=self.file, line=_line(node), key=self._key(key))
