"""The shared command-line edge: one line on stderr and exit 1 for every expected failure."""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from fedtrade import __version__
from fedtrade.trust.cli import DEBUG_VARIABLE, CommandParser, run_command
from fedtrade.trust.errors import ConfigError


def run(action: Callable[[], object], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run ``action`` as a command; returns the exit status and stderr."""

    def command(_args: argparse.Namespace) -> int:
        action()
        return 0

    code = run_command(argparse.Namespace(run=command))
    captured = capsys.readouterr()
    assert captured.out == ""
    return code, captured.err


def python(script: str) -> subprocess.Popen[bytes]:
    """``script`` running in a new interpreter, its stdout and stderr piped."""
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def one_line(err: str) -> str:
    assert err.endswith("\n")
    assert err.count("\n") == 1, err
    assert err.startswith("error: ")
    return err.removeprefix("error: ").rstrip("\n")


def test_a_fedtrade_error_is_its_message(capsys: pytest.CaptureFixture[str]) -> None:
    def fail() -> None:
        raise ConfigError("unknown key 'x'", path="a.yaml", line=3, key="x")

    code, err = run(fail, capsys)
    assert code == 1
    assert one_line(err) == "a.yaml:3: x: unknown key 'x'"


def test_a_missing_file_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere.csv"
    code, err = run(lambda: missing.read_text(), capsys)
    assert code == 1
    assert one_line(err) == f"{missing}: No such file or directory; check the path"


def test_a_folder_instead_of_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(lambda: tmp_path.read_bytes(), capsys)
    assert code == 1
    assert one_line(err) == f"{tmp_path}: Is a directory; give a file, not a folder"


def test_a_busy_port_says_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy, socket.socket() as second:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        code, err = run(lambda: second.bind(busy.getsockname()), capsys)
    assert code == 1
    assert one_line(err) == (
        "Address already in use; another process uses this port: stop it or choose another port"
    )


def test_an_os_error_with_its_own_message_is_kept(capsys: pytest.CaptureFixture[str]) -> None:
    def fail() -> None:
        raise OSError("cannot do this: here is why")

    assert run(fail, capsys) == (1, "error: cannot do this: here is why\n")


def test_ctrl_c_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    def interrupt() -> None:
        raise KeyboardInterrupt

    assert run(interrupt, capsys) == (1, "error: interrupted\n")


def test_sigterm_is_one_line_and_runs_the_clean_up(tmp_path: Path) -> None:
    """SIGTERM (a container stopping) while a command writes: its clean-up runs as for
    Ctrl-C, one error line names the signal, and the default handler is back after."""
    partial = tmp_path / "out.tmp"
    script = (
        "import argparse, signal, time\n"
        "from pathlib import Path\n"
        "from fedtrade.trust.cli import run_command\n"
        "def write(_args):\n"
        f"    partial = Path({str(partial)!r})\n"
        "    partial.write_text('half')\n"
        "    try:\n"
        "        print('writing', flush=True)\n"
        "        time.sleep(60)\n"
        "    finally:\n"
        "        partial.unlink()\n"
        "    return 0\n"
        "code = run_command(argparse.Namespace(run=write))\n"
        "print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)\n"
        "raise SystemExit(code)\n"
    )
    process = python(script)
    assert process.stdout is not None
    assert process.stdout.readline() == b"writing\n"
    assert partial.exists()
    process.terminate()
    out, err = process.communicate(timeout=30)
    assert (process.returncode, err, out) == (1, b"error: terminated (SIGTERM)\n", b"True\n")
    assert not partial.exists()


def test_a_bug_is_one_line_unless_debugging(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    empty: dict[str, int] = {}

    def bug() -> None:
        empty["missing"]  # the bug under test

    monkeypatch.delenv(DEBUG_VARIABLE, raising=False)
    code, err = run(bug, capsys)
    assert code == 1
    line = one_line(err)
    assert line.startswith("unexpected KeyError: 'missing' (a bug in fedtrade")
    assert f"set {DEBUG_VARIABLE}=1" in line
    monkeypatch.setenv(DEBUG_VARIABLE, "1")
    with pytest.raises(KeyError):
        run(bug, capsys)


def test_a_closed_pipe_ends_quietly() -> None:
    """`fedtrade ... | head -1`: the reader leaves; no traceback, no error line."""
    script = (
        "import argparse\n"
        "from fedtrade.trust.cli import run_command\n"
        "def chatty(_args):\n"
        "    for n in range(200_000):\n"
        "        print(n)\n"
        "    return 0\n"
        "raise SystemExit(run_command(argparse.Namespace(run=chatty)))\n"
    )
    process = python(script)
    assert process.stdout is not None
    assert process.stderr is not None
    assert process.stdout.readline() == b"0\n"
    process.stdout.close()
    err = process.stderr.read()
    assert process.wait(timeout=30) == 1
    assert err == b""


def parser() -> CommandParser:
    top = CommandParser(prog="tool", version=True)
    commands = top.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check")
    check.add_argument("file")
    check.add_argument("--json", action="store_true")
    return top


def test_an_unknown_option_is_named_with_its_command_usage(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        parser().parse_args(["check", "a.yaml", "--jsn"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: tool check [-h] [--json] file\n")
    assert err.endswith(
        "tool check: error: unknown option --jsn (did you mean --json? see 'tool check --help')\n"
    )


def test_an_unknown_option_comes_before_missing_arguments(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A typo is the cause; "the following arguments are required: file" would mislead."""
    for args in (["check", "--bogus"], ["--bogus", "check", "a.yaml"], ["--bogus"]):
        with pytest.raises(SystemExit):
            parser().parse_args(args)
        assert "error: unknown option --bogus (see '" in capsys.readouterr().err


def test_values_abbreviations_and_separators_are_not_unknown_options() -> None:
    top = CommandParser(prog="tool")
    top.add_argument("-v", "--verbose", action="count", default=0)
    top.add_argument("--limit", type=int)
    top.add_argument("rest", nargs="*")
    args = top.parse_args(["-vv", "--lim=-3", "--", "--not-an-option", "-x"])
    assert (args.verbose, args.limit, args.rest) == (2, -3, ["--not-an-option", "-x"])


def test_an_extra_argument_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["check", "a.yaml", "b.yaml"])
    assert "tool check: error: unexpected argument 'b.yaml'" in capsys.readouterr().err


def test_known_arguments_parse(capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(["check", "--json", "a.yaml"])
    assert (args.command, args.file, args.json) == ("check", "a.yaml", True)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        parser().parse_args(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"tool {__version__}\n"
