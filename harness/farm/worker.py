"""The farm worker's own process: ``python -m harness.farm.worker`` (``consentry farm worker``
execs it).

Why a process of its own: Celery's prefork pool forks the child that runs the sessions, and
frida does not survive a fork once imported (the child hangs at its first call). The
``consentry`` command line imports every command, ``run`` and with it frida, so the worker
starts afresh from this module, which reaches frida only inside the forked child.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.errors import HarnessError


def argv_for(serial: str, broker: str, db: str, runs: Path, loglevel: str) -> list[str]:
    return [sys.executable, "-m", "harness.farm.worker", "--serial", serial, "--broker", broker,
            "--db", db, "--runs", str(runs), "--loglevel", loglevel]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="consentry farm worker")
    parser.add_argument("--serial", required=True)
    parser.add_argument("--broker", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--loglevel", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    from harness.farm.celery_app import make_app, start_worker

    try:
        app = make_app(args.broker, db=args.db, runs=args.runs, serial=args.serial)
        return start_worker(app, args.serial, loglevel=args.loglevel)
    except HarnessError as exc:
        print(f"consentry: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
