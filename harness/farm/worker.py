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
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.errors import HarnessError

BROKER_ENV, DB_ENV = "CONSENTRY_BROKER", "CONSENTRY_FARM_DB"


def argv_for(serial: str, runs: Path, loglevel: str, time_limit: float) -> list[str]:
    """The worker's command line. The broker and store URLs, which may hold passwords, go
    through the environment (:func:`env_for`), not argv, which any local user can read in
    ``ps``. ``-P``: the current folder is not put first on ``sys.path``, so a stray
    ``harness`` or ``celery`` folder where the worker is started cannot shadow ours."""
    return [sys.executable, "-P", "-m", "harness.farm.worker", "--serial", serial,
            "--runs", str(runs), "--loglevel", loglevel, "--time-limit", repr(time_limit)]


def env_for(broker: str, db: str) -> dict[str, str]:
    return {**os.environ, BROKER_ENV: broker, DB_ENV: db}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="consentry farm worker")
    parser.add_argument("--serial", required=True)
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--loglevel", default="INFO")
    parser.add_argument("--time-limit", type=float, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    broker, db = os.environ.get(BROKER_ENV), os.environ.get(DB_ENV)
    if not broker or not db:
        print(f"consentry: error: {BROKER_ENV} and {DB_ENV} must be set (`consentry farm "
              "worker` sets them)", file=sys.stderr)
        return 2
    from harness.farm.celery_app import make_app, start_worker

    try:
        app = make_app(broker, db=db, runs=args.runs, serial=args.serial,
                       time_limit=args.time_limit)
        return start_worker(app, args.serial, loglevel=args.loglevel)
    except HarnessError as exc:
        print(f"consentry: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
