"""Pieces shared by the commands that run a session."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from harness.errors import ConfigError
from harness.session import SessionResult


def default_out(app: str, scenario: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("consentry-runs") / f"{app}-{scenario}-{stamp}"


def add_session_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, help="run directory to create (default: "
                        "consentry-runs/<app>-<scenario>-<time>)")
    parser.add_argument("--categories", help="only hook these catalogue categories, "
                        "comma-separated, or 'all' (default: all but the opt-in 'crypto'; see "
                        "`consentry catalogue`)")
    parser.add_argument("--settle", type=float, default=2.0,
                        help="seconds to wait after the last step for late events (default 2)")
    parser.add_argument("--no-analyze", action="store_true",
                        help="only record the bundle; run `consentry analyze` later")
    parser.add_argument("--script-runtime", choices=["qjs", "v8"], default="qjs",
                        help="Frida's JavaScript runtime for the agent (default qjs: fast Java "
                        "hooks; v8: an app that forks children keeps its own session, but Java "
                        "hooks are far slower)")


def categories(value: str | None) -> set[str] | None:
    if not value:
        return None
    from harness.instrument.catalogue import load_catalogue

    wanted = {c.strip() for c in value.split(",") if c.strip()}
    known = set(load_catalogue().categories())
    if wanted == {"all"}:
        return known
    unknown = wanted - known
    if unknown:
        raise ConfigError(f"unknown categories {sorted(unknown)}; known: {sorted(known)}")
    return wanted


def terminate_as_exit() -> None:
    """SIGTERM unwinds like Ctrl-C, so the device is restored and the bundle marked."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def print_result(result: SessionResult) -> None:
    if result.analysis is not None:
        from harness.report.summary import summary

        print(summary(result.analysis))
    print(f"evidence: {result.run_dir}", file=sys.stderr)
    report = result.run_dir / "report.html"
    if report.exists():
        print(f"report:   {report}", file=sys.stderr)
