"""Interrupting `synth` mid-generation stops it promptly and cleanly, workers included.

The demo and the benchmark turn SIGTERM into KeyboardInterrupt; forked pool workers used
to inherit that handler and could die holding the pool's task-queue lock, leaving
Pool.terminate() waiting for ever.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = """
import signal, sys
from pathlib import Path

def _interrupt(*_):
    raise KeyboardInterrupt

signal.signal(signal.SIGTERM, _interrupt)
from fedtrade.sim.synth import generate

print("ready", flush=True)
try:
    generate(Path(sys.argv[1]), shipments=400_000, seed=5, workers=2, progress=False)
except KeyboardInterrupt:
    sys.exit(130)
"""


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for_workers(pid: int, count: int) -> None:
    deadline = time.monotonic() + 60
    while len(_children(pid)) < count:
        assert time.monotonic() < deadline, "synth never started its workers"
        time.sleep(0.02)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("delay", "whole_group"), [(0.0, True), (1.0, True), (0.0, False), (1.0, False)]
)
def test_sigterm_mid_generation_stops_promptly(
    tmp_path: Path, delay: float, whole_group: bool
) -> None:
    out = tmp_path / "world"
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    _wait_for_workers(process.pid, 2)
    time.sleep(delay)
    if whole_group:  # as a terminal's Ctrl-C or a container stop reaches every process
        os.killpg(process.pid, signal.SIGTERM)
    else:
        process.send_signal(signal.SIGTERM)
    try:
        _, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail("synth did not stop within 60 s of SIGTERM (pool hang)")
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    deadline = time.monotonic() + 10  # no worker outlives the run
    while _group_alive(process.pid):
        assert time.monotonic() < deadline, "a synth worker outlived the run"
        time.sleep(0.05)
    assert not out.exists() or not any(out.rglob("*.csv")), "partial output left behind"
