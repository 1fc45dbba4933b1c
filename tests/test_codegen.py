"""The committed generated protobuf code matches what scripts/codegen produces now."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ("_pb2.py", "_pb2_grpc.py", "_pb2.pyi", "_pb2_grpc.pyi")


def _generated(folder: Path) -> dict[str, bytes]:
    """Generated files under ``folder``, by path relative to it (every version folder)."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in folder.rglob("*")
        if path.name.endswith(GENERATED)
    }


def test_generated_code_has_not_drifted(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON": sys.executable}
    subprocess.run(
        [str(ROOT / "scripts" / "codegen"), str(tmp_path)], check=True, env=env, capture_output=True
    )
    fresh = _generated(tmp_path / "fedtrade" / "protos")
    committed = _generated(ROOT / "protos")
    assert fresh, "scripts/codegen generated nothing"
    assert sorted(fresh) == sorted(committed)
    for name, content in fresh.items():
        assert content == committed[name], (
            f"protos/{name} differs from a fresh generation: run scripts/codegen and commit"
        )
