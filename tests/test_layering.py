"""The layers hold, read from the source files themselves (their import statements).

Bottom up: ``trust`` and ``protos``; ``protocol``; ``node`` and ``coordinator``
side by side; ``sim`` (tooling) on top. Everything imports as ``fedtrade.*``.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("trust", "protos", "protocol", "node", "coordinator", "sim")
# The fedtrade subpackages each package may import (itself included).
MAY_IMPORT: dict[str, frozenset[str]] = {
    "trust": frozenset({"trust"}),
    "protos": frozenset({"protos"}),
    "protocol": frozenset({"trust", "protos", "protocol"}),
    "node": frozenset({"trust", "protos", "protocol", "node"}),
    "coordinator": frozenset({"trust", "protos", "protocol", "coordinator"}),
    "sim": frozenset(PACKAGES),
}
# Third-party modules a package must not import: the security core stays free of the
# transport and the database, and the shared contract free of gRPC server code.
_GRPC = re.compile(r"^grpc(_[a-z_]+)?(\.|$)")
_SQLITE = re.compile(r"^(sqlite3|sqlite_utils|psycopg)(\.|$)")  # the databases
_GRPC_SERVER = re.compile(
    r"^(grpc_health|grpc_reflection)(\.|$)|_pb2_grpc(\.|$)|^grpc\..*(server|servicer)",
    re.IGNORECASE,
)
FORBIDDEN: dict[str, tuple[re.Pattern[str], ...]] = {
    "trust": (_GRPC, _SQLITE),
    "protocol": (_GRPC_SERVER,),
}
_SKIP_DIRS = {"fedtrade", "node_modules", "build", "dist", "__pycache__"}


def imported_names(source: str, module: str) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of everything ``source`` (the module ``module``) imports.

    ``from a import b`` yields ``a`` and ``a.b`` (b may be a module); relative imports are
    resolved against ``module``; attributes used on an imported module (``grpc.server``) and
    ``importlib.import_module("...")`` with a literal name count as imports too.
    """
    tree = ast.parse(source)
    package = module.split(".")
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.partition(".")[0]] = (
                    alias.name if alias.asname else alias.name.partition(".")[0])
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                # the package this module is in, then one level up per further dot
                anchor = package[: len(package) - node.level]
                base = ".".join([*anchor, *([base] if base else [])])
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"
                aliases[alias.asname or alias.name] = f"{base}.{alias.name}"
        elif isinstance(node, ast.Call) and _is_import_call(node.func):
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield node.lineno, first.value
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            target = aliases.get(node.value.id)
            if target is not None:
                yield node.lineno, f"{target}.{node.attr}"


def _is_import_call(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in ("__import__", "import_module")
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def python_files(folder: Path) -> Iterator[Path]:
    """The .py files under ``folder``, without following symlinks (fedtrade/ links back)."""
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        yield from (Path(dirpath) / f for f in sorted(filenames) if f.endswith(".py"))


def module_name(path: Path) -> str:
    """The import name of a repository file (``__init__`` kept, for relative imports):
    node/cli.py is fedtrade.node.cli, tests/conftest.py is tests.conftest."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(["fedtrade", *parts] if parts[0] in PACKAGES else parts)


def violations(package: str, module: str, source: str) -> list[tuple[int, str]]:
    """The imports of ``source`` (``module`` of ``package``) that break the layering."""
    found = set()
    for line, name in imported_names(source, module):
        parts = name.split(".")
        if parts[0] == "fedtrade" and len(parts) > 1 and parts[1] in PACKAGES \
                and parts[1] not in MAY_IMPORT[package]:
            found.add((line, name))
        if any(rule.search(name) for rule in FORBIDDEN.get(package, ())):
            found.add((line, name))
    # ``from a.b import c`` yields a.b and a.b.c: name the import once
    return sorted((line, name) for line, name in found
                  if not any(name.startswith(f"{other}.") for n, other in found if n == line))


@pytest.mark.parametrize(
    ("package", "source", "bad"),
    [
        ("coordinator", "from fedtrade.node.catalogue import CATALOGUE", "fedtrade.node.catalogue"),
        ("coordinator", "from ..node import catalogue", "fedtrade.node"),
        ("coordinator", "from fedtrade import node", "fedtrade.node"),
        ("node", "import fedtrade.coordinator.risk", "fedtrade.coordinator.risk"),
        ("node", "importlib.import_module('fedtrade.sim.demo')", "fedtrade.sim.demo"),
        ("protocol", "from fedtrade.node.queries import spec", "fedtrade.node.queries"),
        ("protocol", "import grpc\ngrpc.server(None)", "grpc.server"),
        ("protocol", "from grpc_health.v1 import health", "grpc_health.v1"),
        ("protocol", "from fedtrade.protos import node_pb2_grpc", "fedtrade.protos.node_pb2_grpc"),
        ("trust", "import sqlite3", "sqlite3"),
        ("trust", "from sqlite_utils import Database", "sqlite_utils"),
        ("trust", "import grpc", "grpc"),
        ("trust", "from fedtrade.protos import query_pb2", "fedtrade.protos"),
        ("protos", "from fedtrade.trust import keys", "fedtrade.trust"),
    ],
)
def test_the_rules_catch_each_kind_of_violation(package: str, source: str, bad: str) -> None:
    module = f"fedtrade.{package}.example"
    assert bad in {name for _, name in violations(package, module, source)}


@pytest.mark.parametrize(
    ("package", "source"),
    [
        ("protocol", "import grpc\ncode = grpc.StatusCode.OK"),
        ("protocol", "from fedtrade.protos import query_pb2\nfrom fedtrade.trust import errors"),
        ("node", "from fedtrade.protocol.catalogue import CATALOGUE\nimport sqlite3"),
        ("sim", "from fedtrade.node import cli\nfrom fedtrade.coordinator import risk"),
        ("trust", "from fedtrade.trust.errors import ConfigError\nimport hashlib"),
    ],
)
def test_the_rules_allow_what_the_layers_may_use(package: str, source: str) -> None:
    assert violations(package, f"fedtrade.{package}.example", source) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_only_the_layers_below(package: str) -> None:
    """node and coordinator side by side, neither importing the other; no product package
    imports sim; trust free of grpc and sqlite; protocol free of gRPC server code."""
    files = list(python_files(ROOT / package))
    assert files, f"no Python files under {package}/"
    found = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in files
        for line, name in violations(package, module_name(path), path.read_text("utf-8"))
    ]
    assert not found, "imports across the layers:\n" + "\n".join(found)


def bare_imports(module: str, source: str) -> list[tuple[int, str]]:
    """Imports of a package by its folder name (``import node``) instead of fedtrade.node."""
    return sorted({(line, name) for line, name in imported_names(source, module)
                   if name.split(".")[0] in PACKAGES})


@pytest.mark.parametrize(
    ("source", "bare"),
    [
        ("import node.cli", True),
        ("from trust.keys import SigningKey", True),
        ("import protocol", True),
        ("from tests.protocol import test_wire", False),
        ("from fedtrade.sim import demo", False),
    ],
)
def test_bare_package_names_are_caught(source: str, bare: bool) -> None:
    assert bool(bare_imports("tests.example", source)) is bare


def test_the_only_top_level_import_name_is_fedtrade() -> None:
    """No file in the repository imports a bare node, coordinator, trust, protos, ..."""
    files = list(python_files(ROOT))
    assert {"tests", "scripts", *PACKAGES} <= {path.relative_to(ROOT).parts[0] for path in files}
    bare = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in files
        for line, name in bare_imports(module_name(path), path.read_text("utf-8"))
    ]
    assert not bare, "import these as fedtrade.<package>:\n" + "\n".join(bare)
