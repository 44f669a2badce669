"""``consentry catalogue``: the hooked APIs, from the catalogue data."""

from __future__ import annotations

import argparse
import json

from harness.errors import ConfigError
from harness.instrument.catalogue import Catalogue, load_catalogue


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("catalogue", help="list the hooked APIs",
                                   description=__doc__)
    parser.add_argument("--category", help="only this category")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--markdown", action="store_true",
                        help="a Markdown table (the documentation table is generated with this)")
    parser.set_defaults(handler=show_catalogue)


def markdown(catalogue: Catalogue) -> str:
    lines = ["| id | API | overloads | category | data type | event | notes |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for e in catalogue.entries:
        overloads = "all" if e.overloads is None else "; ".join(
            f"({', '.join(o)})" for o in e.overloads)
        notes = " ".join(x for x in (e.api_level, e.notes) if x).replace("|", "\\|")
        lines.append(f"| `{e.id}` | `{e.api}` | {overloads} | {e.category} | {e.data_type} | "
                     f"{e.event} | {notes} |")
    return "\n".join(lines)


def show_catalogue(args: argparse.Namespace) -> int:
    catalogue = load_catalogue()
    if args.category:
        if args.category not in catalogue.categories():
            raise ConfigError(f"unknown category {args.category!r}; known: "
                              f"{', '.join(catalogue.categories())}")
        catalogue = catalogue.filter({args.category})
    if args.json:
        print(json.dumps([e.to_json() for e in catalogue.entries], indent=2,
                         ensure_ascii=False))
    elif args.markdown:
        print(markdown(catalogue))
    else:
        width = max(len(e.api) for e in catalogue.entries)
        for e in catalogue.entries:
            print(f"{e.api:<{width}}  {e.category:<14} {e.data_type:<18} {e.event}")
        print(f"{len(catalogue.entries)} entries in {len(catalogue.categories())} categories")
    return 0
