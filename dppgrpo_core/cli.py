"""What every command line shares: bad input gives one line on stderr and exit status 2, never a traceback.

    from dppgrpo_core.cli import ArgumentParser, run_main, whole

    def _main(argv: list[str]) -> int:
        parser = ArgumentParser(prog="python -m mytool")      # a bad flag raises UserFacingError
        parser.add_argument("--k", type=whole(1, 50), default=8)
        args = parser.parse_args(argv)
        ...
        return 0

    def main(argv=None) -> int:
        return run_main(_main, argv)       # error: <message>  (stderr), status 2

    if __name__ == "__main__":
        sys.exit(main())
"""

from __future__ import annotations

import argparse
import sys

from dppgrpo_core import checks
from dppgrpo_core.errors import UserFacingError

MESSAGE_CHARS = 600  # a message longer than this is cut: one line must stay readable


def one_line(message: str) -> str:
    """The message with line breaks and other control characters written as escapes, cut to MESSAGE_CHARS."""
    line = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in str(message).strip())
    return line if len(line) <= MESSAGE_CHARS else line[:MESSAGE_CHARS] + "…"


def run_main(main_fn, argv=None) -> int:
    """Run `main_fn(argv)` (argv defaults to sys.argv[1:]) and return its status (None counts as 0).

    A UserFacingError, an argument that is not valid UTF-8, and an OSError no one caught (a --cache-dir under
    /proc, a read-only disk: the place is named, never a traceback) print `error: <message>` on one line of
    stderr and return 2.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        for position, arg in enumerate(args, 1):
            try:
                str(arg).encode("utf-8")
            except UnicodeEncodeError:  # Python decodes undecodable argv bytes to lone surrogates
                raise UserFacingError(f"argument {position} ({checks.shown(arg)}) is not valid UTF-8.") from None
        return main_fn(args) or 0
    except UserFacingError as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:
        reason = exc.strerror or str(exc)
        message = f"Cannot use {checks.shown(str(exc.filename))}: {reason}." if exc.filename else f"{reason}."
        print(f"error: {one_line(message)}", file=sys.stderr)
        return 2


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose errors raise UserFacingError (one line through `run_main`) instead of printing usage."""

    def error(self, message):
        raise UserFacingError(f"{self.prog}: {message}")


def _type(parse, label: str):
    def convert(value: str):
        try:
            return parse(value)
        except UserFacingError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = label
    return convert


def whole(low=None, high=None):
    """argparse type: a whole number within [low, high]."""
    return _type(lambda value: checks.number(value, None, low, high, whole=True), "whole number")


def real(low=None, high=None):
    """argparse type: a finite number within [low, high]."""
    return _type(lambda value: checks.number(value, None, low, high), "number")


def seed(high: int = checks.SEED_MAX):
    """argparse type: a seed, a whole number from 0 to `high`."""
    return _type(lambda value: checks.seed(value, None, high), "seed")


def shard():
    """argparse type: "i/n", this process's part of a job split n ways, as (i, n) with 0 ≤ i < n ≤ 64.

    >>> shard()("1/2")
    (1, 2)
    """
    def parse(text: str) -> tuple[int, int]:
        try:
            part, parts = (int(x) for x in text.split("/"))
        except ValueError:
            part, parts = -1, 0
        if not 0 <= part < parts <= 64:
            raise UserFacingError(f"{text!r}: give i/n with 0 ≤ i < n ≤ 64, e.g. 0/2 and 1/2 on two cores.")
        return part, parts

    return _type(parse, "shard")
