"""The committed generated protobuf code matches what scripts/codegen produces now."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_generated_code_has_not_drifted(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON": sys.executable}
    subprocess.run(
        [str(ROOT / "scripts" / "codegen"), str(tmp_path)], check=True, env=env, capture_output=True
    )
    fresh = tmp_path / "fedtrade" / "protos"
    generated = sorted(p.name for p in fresh.iterdir())
    committed = sorted(
        p.name
        for p in (ROOT / "protos").iterdir()
        if p.name.endswith(("_pb2.py", "_pb2_grpc.py", "_pb2.pyi", "_pb2_grpc.pyi"))
    )
    assert generated == committed
    for name in generated:
        assert (fresh / name).read_bytes() == (ROOT / "protos" / name).read_bytes(), (
            f"protos/{name} differs from a fresh generation: run scripts/codegen and commit"
        )
