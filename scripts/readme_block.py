"""Print the README's command block marked ``<!-- commands: NAME -->``, one command a line.

The README's step-by-step procedures are run exactly as written: scripts/container-test
pipes the ``deploy`` block to bash, and tests/test_join.py runs the ``join`` block.
Usage: python scripts/readme_block.py README.md NAME
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

__all__ = ["commands"]


def commands(readme: str, name: str) -> list[str]:
    """The commands of block ``name``: console lines without prompts, continuations joined."""
    match = re.search(rf"<!-- commands: {re.escape(name)} -->\s*```console\n(.*?)```", readme,
                      flags=re.S)
    if match is None:
        raise SystemExit(f"README has no block marked <!-- commands: {name} -->")
    joined = match.group(1).replace("\\\n", " ")
    return [line.removeprefix("$ ").strip() for line in joined.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


if __name__ == "__main__":
    print("\n".join(commands(Path(sys.argv[1]).read_text(), sys.argv[2])))
