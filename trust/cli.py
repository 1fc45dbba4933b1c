"""The command-line edge both console scripts share.

Every expected failure becomes one line on stderr and exit status 1, never a
traceback: a ``FedtradeError`` (its message already says what to do), an
``OSError`` nobody below wrapped (a busy port, a missing file, a permission),
Ctrl-C, SIGTERM (a container stopping, ``kill``, a scheduler's timeout). Usage
errors are argparse's: the usage line, then one error line naming the unknown
option, and exit status 2.
"""

from __future__ import annotations

import argparse
import difflib
import errno
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any

from fedtrade import __version__
from fedtrade.trust.errors import FedtradeError

__all__ = [
    "DEBUG_VARIABLE",
    "CommandParser",
    "add_json_option",
    "describe_os_error",
    "print_json",
    "run_command",
]

# Set to see the traceback of an unexpected error (a bug) instead of its one-line summary.
DEBUG_VARIABLE = "FEDTRADE_DEBUG"

_HINTS = {
    errno.ENOENT: "check the path",
    errno.EACCES: "check the owner and mode of the file and of its folders",
    errno.EPERM: "check the owner and mode of the file and of its folders",
    errno.EISDIR: "give a file, not a folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EEXIST: "remove it or choose another name",
    errno.ENOSPC: "free some disk space",
    errno.EROFS: "choose a writable location",
    errno.EADDRINUSE: "another process uses this port: stop it or choose another port",
    errno.EADDRNOTAVAIL: "this address is not local to this machine: check the host part",
}


class CommandParser(argparse.ArgumentParser):
    """An argument parser whose commands name an unknown option, with their own usage.

    Plain argparse reports a mistyped option last, after "the following arguments
    are required" caused by the typo, and from a subcommand it passes unknown
    arguments up to the top-level parser, which prints the top-level usage. Here
    the command that receives an option it does not know names it first.
    """

    def __init__(self, *args: Any, version: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if version:
            self.add_argument("--version", action="version", version=f"%(prog)s {__version__}",
                              help="print the version and exit")

    def parse_known_args(  # type: ignore[override]  # same behaviour, narrower types
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        unknown = self._unknown_option(sys.argv[1:] if args is None else args)
        if unknown is not None:
            known = [o for o in self._option_string_actions if o.startswith("--")]
            close = difflib.get_close_matches(unknown, known, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            self.error(f"unknown option {unknown} ({hint}see '{self.prog} --help')")
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unexpected argument {extras[0]!r} (see '{self.prog} --help')")
        return parsed, extras

    def _unknown_option(self, args: Sequence[str]) -> str | None:
        """The first option in ``args`` this parser does not know, as argparse would read it.

        Stops at ``--`` and at a subcommand's name: what follows belongs to that command.
        """
        commands = {name for action in self._actions
                    if isinstance(action, argparse._SubParsersAction) for name in action.choices}
        options = self._option_string_actions
        for arg in args:
            if arg == "--" or arg in commands:
                return None
            if not arg.startswith("-") or arg == "-" or " " in arg or arg[1:2].isdigit():
                continue  # a value, or what argparse reads as a positional or a number
            name = arg.split("=", 1)[0]
            if name in options or (not name.startswith("--") and name[:2] in options):
                continue  # exact, or a short option with its value attached (-vv, -ofile)
            if name.startswith("--") and self.allow_abbrev and any(
                    option.startswith(name) for option in options):
                continue  # an abbreviation; argparse itself reports an ambiguous one
            return name
        return None


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print the result as JSON (errors stay one line on stderr, exit 1)")


def describe_os_error(exc: OSError) -> str:
    """One line for an operating-system error: which file or address, what, what to do."""
    what = exc.strerror or str(exc)
    if exc.strerror is None:  # raised with a message of its own, already complete
        return what
    where = f"{exc.filename}: " if exc.filename is not None else ""
    hint = _HINTS.get(exc.errno or 0)
    return f"{where}{what}" + (f"; {hint}" if hint else "")


def print_json(value: object) -> None:
    """Print ``value`` as JSON on stdout (dates and paths as text), for scripts and jq."""
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _quiet_stdout() -> None:
    # The reader went away (e.g. `| head`): later writes to stdout, including the
    # interpreter's final flush, must not fail again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the command is: as a KeyboardInterrupt, so every clean-up that
    Ctrl-C runs (temporary files removed, transactions rolled back) runs for it too."""


def _raise_terminated(_signum: int, _frame: FrameType | None) -> None:
    raise Terminated


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the command like Ctrl-C while it runs; Python's default would end the
    process at once, leaving its temporary files and no word of why. A command that
    handles signals itself (``serve``) sets its own handler over this one."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers (and receives the signal)
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_command(args: argparse.Namespace) -> int:
    """Run the chosen command (``args.run``); every expected failure becomes one line + exit 1."""
    try:
        with _sigterm_as_interrupt():
            code: int = args.run(args)
        return code
    except FedtradeError as exc:
        message = str(exc)
    except BrokenPipeError:
        _quiet_stdout()
        return 1
    except OSError as exc:
        message = describe_os_error(exc)
    except Terminated:
        message = "terminated (SIGTERM)"
    except KeyboardInterrupt:
        message = "interrupted"
    except Exception as exc:
        if os.environ.get(DEBUG_VARIABLE):
            raise
        message = (f"unexpected {type(exc).__name__}: {exc} (a bug in fedtrade: please report "
                   f"it; set {DEBUG_VARIABLE}=1 to see where it happened)")
    print(f"error: {message}", file=sys.stderr)
    return 1
