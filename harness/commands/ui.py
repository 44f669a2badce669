"""``consentry ui``: offline tools for window hierarchies.

``consentry ui detect DUMP.xml [--json]`` says whether a uiautomator dump shows a consent
dialog, a privacy notice or neither, and which controls accept and refuse.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from harness.errors import InputError
from harness.ui.consent import FINDINGS, Control, Detection, detect_xml


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ui", help="inspect window hierarchies (uiautomator dumps) offline",
        description="Offline tools for uiautomator window hierarchies.")
    actions = parser.add_subparsers(dest="ui_command", metavar="ACTION")
    parser.set_defaults(handler=_usage(parser))
    detect = actions.add_parser(
        "detect", help="is this screen a consent dialog? which controls accept / reject?",
        description="Classify one uiautomator dump (as uiautomator2 dump_hierarchy() writes it) "
        "as a consent dialog, a privacy notice or neither.")
    detect.add_argument("dump", metavar="DUMP.xml", type=Path, help="the window hierarchy")
    detect.add_argument("--json", action="store_true", help="print one JSON object")
    detect.set_defaults(handler=run_detect)


def _usage(parser: argparse.ArgumentParser) -> Any:
    def handler(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2
    return handler


def read_dump(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; pass the path of a uiautomator dump "
                         "(e.g. screens/001.xml of a run)") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory; pass one dump .xml file") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); "
                         "expected the XML of uiautomator2 dump_hierarchy()") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None


def _describe(control: Control | None) -> str:
    if control is None:
        return "-"
    where = f" [{control.resource_id}]" if control.resource_id else ""
    x, y = control.center
    return f"{control.text!r}{where} at ({x}, {y})"


def summary(detection: Detection) -> str:
    lines = [f"dialog:   {detection.dialog}"]
    if detection.dialog == "consent":
        lines += [f"accept:   {_describe(detection.accept)}",
                  f"reject:   {_describe(detection.reject)}"]
    for finding in detection.findings:
        lines.append(f"finding:  {finding} ({FINDINGS[finding]})")
    return "\n".join(lines)


def run_detect(args: argparse.Namespace) -> int:
    path: Path = args.dump
    detection = detect_xml(read_dump(path), source=str(path))
    if args.json:
        print(json.dumps(detection.to_json(), ensure_ascii=False))
    else:
        print(summary(detection))
    return 0
