"""The demo runs the federation end to end and leaves no process behind, also on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fedtrade.sim.demo import main as demo_main
from tests.conftest import wait_for


def processes_using(folder: Path) -> list[int]:
    """Pids of live processes whose command line names ``folder`` (the demo's nodes do)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(folder) in cmdline and int(entry.name) != os.getpid():
            pids.append(int(entry.name))
    return pids


def demo(workdir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "fedtrade.sim.demo", "--workdir", str(workdir),
         "--shipments", "300"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    process = demo(workdir)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    assert "evidence verified" in output
    # the figures are reported, met or not (entries left out and misclassifications only a
    # marketplace hint contradicts are honest misses); the budget lines are always there
    assert "targets (recall >= 0.95 and precision >= 0.9): " in output
    assert "budget 5% (15 of the shipments" in output
    assert "budget target (at 5 %, federation catches >= 2x the manifest-only" in output
    assert "attested" in output
    assert "carrier-1 signed the manifest it filed" in output
    assert "NOTSHIPPED01: refused, PERMISSION_DENIED" in " ".join(output.split())
    # a differentially private aggregate with its intervals; the repeat costs nothing
    words = " ".join(output.split())  # rich wraps table captions
    assert words.count("discrete_laplace noise, epsilon 0.5 spent, budget remaining 4.5;") == 2
    assert "95 % interval" in words
    assert (workdir / "report.html").exists()
    # AEO: two of three stakeholders certified, the green lane and a signed scorecard
    assert "cbp-aeo issued carrier-1 a gold certificate" in words
    assert "cbp-aeo issued marketplace-1 a gold certificate" in words
    assert "broker-1: none: presents no AEO certificate, carrier-1: gold, marketplace-1: gold" \
        in words
    assert "AEO green lane (per tier configuration)" in output
    assert "AEO data-sharing scorecards" in words
    assert 'id="green-lane"' in (workdir / "report.html").read_text()
    (scorecard,) = workdir.glob("scorecard-*.html")
    key = workdir / "keys" / "cbp-coordinator.pub"
    check = subprocess.run(
        [sys.executable, "-m", "fedtrade.coordinator.cli", "aeo", "verify-scorecard",
         str(scorecard), "--coordinator-key", str(key)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert processes_using(workdir) == []


def test_ctrl_c_stops_every_process(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    process = demo(workdir)
    try:
        ports = [workdir / "data" / f"{n}.port" for n in ("marketplace-1", "carrier-1", "broker-1")]
        assert wait_for(lambda: all(p.exists() for p in ports), 120), "nodes did not start"
        assert len(processes_using(workdir)) >= 3
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does to the foreground group
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert process.returncode == 130, output
    assert "interrupted" in output
    assert wait_for(lambda: processes_using(workdir) == [], 10), processes_using(workdir)


@pytest.mark.parametrize(("option", "value"), [
    ("--shipments", "0"), ("--seed", "-3"), ("--deadline", "0"), ("--deadline", "nan")])
def test_bad_options_are_refused_before_anything_is_made(
    option: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        demo_main(["--workdir", str(tmp_path / "demo"), option, value])
    assert exit_.value.code == 2
    assert f"scripts/demo: error: argument {option}: give " in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()


def test_a_working_folder_that_cannot_be_one_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    afile = tmp_path / "a-file"
    afile.write_text("")
    def unwrapped(text: str) -> str:  # the console breaks long lines where it likes
        return "".join(text.split())

    assert demo_main(["--workdir", str(afile)]) == 1
    assert unwrapped(capsys.readouterr().out) == unwrapped(
        f"error: {afile} is a file; give a new folder as --workdir")
    assert demo_main(["--workdir", str(afile / "below")]) == 1
    assert unwrapped(capsys.readouterr().out) == unwrapped(
        f"error: {afile / 'below' / 'data'}: Not a directory; a part of the path is a file, "
        "not a folder")
