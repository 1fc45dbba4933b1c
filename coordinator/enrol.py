"""`fedtrade nodes add`: the `nodes:` entry for a new node, checked, optionally written in.

The entry is inserted as text at the end of the config's ``nodes:`` block, so the
operator's comments and layout stay as they were. Before anything is written the
whole edited config is loaded as the coordinator would load it (key file, address,
role, duplicate ids); a config that would not load is never written.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fedtrade.coordinator.config import CoordinatorConfig, load_coordinator_config
from fedtrade.trust.errors import ConfigError

__all__ = ["NodeProposal", "add_node"]

_TOP_LEVEL = re.compile(r"^[^\s#]")


@dataclass(frozen=True)
class NodeProposal:
    node_id: str
    role: str
    address: str
    public_key: Path
    deadline_seconds: float

    def entry(self, config_dir: Path) -> str:
        """The YAML lines of this node under ``nodes:`` (two-space indented)."""
        key = self.public_key.resolve()
        try:
            shown = key.relative_to(config_dir.resolve())
        except ValueError:
            shown = key
        return (f"  # {self.role} node {self.node_id} (added by `fedtrade nodes add`).\n"
                f"  {self.node_id}:\n"
                f"    role: {self.role}\n"
                f"    address: {self.address}\n"
                f"    public_key: {shown}\n"
                f"    deadline_seconds: {self.deadline_seconds:g}\n")


def _insert(text: str, entry: str, path: Path) -> str:
    """``text`` with ``entry`` appended to its top-level ``nodes:`` block."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if re.match(r"^nodes:\s*(#.*)?$", line)]
    if len(starts) != 1:
        raise ConfigError("needs exactly one top-level 'nodes:' block (block style) to add the "
                          "node to; add the printed entry by hand", path=path)
    end = len(lines)
    for i in range(starts[0] + 1, len(lines)):
        if _TOP_LEVEL.match(lines[i]):
            end = i
            break
    while end > starts[0] + 1 and not lines[end - 1].strip():
        end -= 1  # keep the blank lines before the next section after the entry
    if end > 0 and not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    return "".join(lines[:end]) + entry + "".join(lines[end:])


def add_node(
    config_path: Path, proposal: NodeProposal, *, apply: bool
) -> tuple[str, CoordinatorConfig]:
    """Check ``proposal`` against the config; with ``apply``, write it in (atomic replace).

    Returns the entry's text and the config as loaded with it.
    """
    current = load_coordinator_config(config_path)
    if proposal.node_id in current.nodes:
        raise ConfigError(f"node {proposal.node_id!r} is already configured; edit its entry "
                          "instead", path=config_path, key=f"nodes.{proposal.node_id}")
    entry = proposal.entry(config_path.parent)
    edited = _insert(config_path.read_text(encoding="utf-8"), entry, config_path)
    # Load the edited text from the same folder, so relative paths resolve as they will.
    fd, name = tempfile.mkstemp(prefix=f".{config_path.name}.", suffix=".new",
                                dir=config_path.parent)
    candidate = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(edited)
        os.chmod(candidate, config_path.stat().st_mode & 0o777)
        try:
            loaded = load_coordinator_config(candidate)
        except ConfigError as exc:
            problem = str(exc).replace(str(candidate), f"{config_path} (edited)")
            raise ConfigError(f"not added: with the new entry the config would not load: "
                              f"{problem}") from exc
        if apply:
            os.replace(candidate, config_path)
    finally:
        candidate.unlink(missing_ok=True)
    return entry, loaded
