"""``consentry traffic scan FILE --values VALUES.json [--json]``: find known personal values
in a HAR file or a mitmproxy dump, offline."""

from __future__ import annotations

import argparse
import json
from typing import Any

from harness.traffic.exchange import read_exchanges
from harness.traffic.matcher import Match, ValueMatcher
from harness.traffic.values import load_values

COLUMNS = ("flow", "data_type", "where", "transform", "host", "recipient")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("traffic", help="search captured traffic for personal data")
    actions = parser.add_subparsers(dest="traffic_command", metavar="ACTION", required=True)
    scan = actions.add_parser(
        "scan", help="find known values (IMEI, AAID, location...) in a HAR file or flow dump",
        description="Search every request of FILE (HAR 1.2 or `mitmdump -w` dump, detected by "
        "content) for the values in VALUES.json, in all common encodings and hashes.",
    )
    scan.add_argument("file", metavar="FILE", help="HAR file or mitmproxy flow dump")
    scan.add_argument("--values", required=True, metavar="VALUES.json",
                      help='known values by data type, e.g. {"imei": ["3569..."], '
                      '"location": [[39.9, 116.4]]}')
    scan.add_argument("--json", action="store_true", help="print the matches as a JSON list")
    scan.set_defaults(handler=run_scan)


def scan_file(path: str, values_path: str) -> tuple[list[Match], list[str]]:
    """All matches in the file, and notes on what could not be searched (the matcher also
    logs each note as a warning, so the CLI shows them on stderr)."""
    matcher = ValueMatcher(load_values(values_path))
    matches: list[Match] = []
    notes: list[str] = []
    for exchange in read_exchanges(path):
        matches.extend(matcher.scan(exchange))
        notes.extend(matcher.notes)
    return matches, notes


def _table(matches: list[Match]) -> str:
    if not matches:
        return "no known value found"
    rows = [[str(getattr(m, c)) if getattr(m, c) is not None else "-" for c in COLUMNS]
            for m in matches]
    header = [c.upper() for c in COLUMNS]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]
    return "\n".join(lines) + f"\n{len(matches)} match(es)"


def run_scan(args: argparse.Namespace) -> int:
    matches, notes = scan_file(args.file, args.values)
    # build the whole output before printing: an error never leaves half a report behind
    if args.json:
        output = json.dumps([m.to_json() for m in matches], indent=2, ensure_ascii=False)
    else:
        output = _table(matches)
    print(output)
    return 0
