"""``consentry analyze RUN_DIR``: re-judge a run from its bundle alone."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness.analysis.engine import analyze, write_outputs
from harness.report.jsonout import findings_json
from harness.report.summary import summary


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "analyze",
        help="recompute the findings and reports of a run directory",
        description="Read RUN_DIR (manifest.json, events.jsonl), run every rule, write "
        "findings.json, traffic.matches.json and the reports (report.html, report.md, "
        "report.junit.xml) into RUN_DIR and print a summary. Needs no device.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="a run directory")
    parser.add_argument("--json", action="store_true",
                        help="print findings.json to stdout instead of the summary")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    result = analyze(args.run_dir)
    write_outputs(args.run_dir, result)
    sys.stdout.write(findings_json(result) if args.json else summary(result) + "\n")
    return 0
