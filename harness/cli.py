"""``consentry``: argv in, exit code out. Each subcommand lives in ``harness/commands/`` as a
module with ``register(subparsers)``; this file only wires them and reports errors."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from harness import __version__
from harness.errors import HarnessError

#: Subcommand modules under ``harness.commands``, in the order ``--help`` lists them.
COMMAND_MODULES = [
    "run",
    "demo",
    "analyze",
    "diff",
    "farm",
    "traffic",
    "ui",
    "catalogue",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="consentry",
        description="What does this app (and which SDK in it) do with personal information, "
        "before consent, after refusal, in the background?",
    )
    parser.add_argument("--version", action="version", version=f"consentry {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail to stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"harness.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"harness.commands.{name}":
                continue  # a command not built yet
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(message)s",
        stream=sys.stderr,
    )
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.handler(args) or EXIT_OK)
    except HarnessError as exc:
        print(f"consentry: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("consentry: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
