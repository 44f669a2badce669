"""``consentry diff OLD_RUN NEW_RUN``: what changed between two runs of the same app.

Exit status, for nightly jobs: 0 no new finding in a sound new run; 1 new findings, or a new
run that lost evidence (then "no new finding" cannot be vouched for, and a lost run must never
look green); 2 a usage error, including a path that is not a readable run directory (so that 1
always means "look at tonight's run").

Comparing a whole directory of runs (one per app, matched by package) is a natural next step
for the emulator farm; it is left out on purpose until the farm's layout exists.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from harness.analysis.diff import (
    FindingChange,
    FindingFacts,
    RunDiff,
    RunFacts,
    diff_runs,
    facts_of,
    grouped,
)
from harness.analysis.engine import analyze
from harness.errors import HarnessError

EXIT_NO_NEW = 0
EXIT_NEW = 1
EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "diff",
        help="compare two runs of the same app (e.g. last night and tonight)",
        description="Re-analyse OLD_RUN and NEW_RUN with the current rules and list findings "
        "new, gone and changed (matched on rule, SDK and data types), hosts contacted, "
        "recipients of personal data and data types read per SDK. Exit status: 0 no new "
        "finding; 1 new findings, or the new run lost evidence (incomplete or degraded); "
        "2 usage error (e.g. a path that is not a run directory).",
    )
    parser.add_argument("old", metavar="OLD_RUN", type=Path, help="the earlier run directory")
    parser.add_argument("new", metavar="NEW_RUN", type=Path, help="the later run directory")
    parser.add_argument("--json", action="store_true",
                        help="print the comparison as JSON instead of a table")
    parser.set_defaults(handler=handle)


def exit_code(diff: RunDiff) -> int:
    # Runs of two different apps compare nothing: a mis-wired nightly job must not go green.
    failed = diff.new_findings or not diff.new.sound or not diff.same_app
    return EXIT_NEW if failed else EXIT_NO_NEW


def verdict(diff: RunDiff) -> str:
    if diff.new_findings:
        return f"verdict: {len(diff.new_findings)} NEW finding(s) (exit 1)"
    if not diff.new.sound:
        return "verdict: no new finding, but the new run lost evidence: not a pass (exit 1)"
    if not diff.same_app:
        return "verdict: the runs are of different apps: nothing to compare (exit 1)"
    return "verdict: no new finding (exit 0)"


def _run_line(label: str, run: RunFacts) -> str:
    status = run.status if run.sound else f"{run.status.upper()}, LOST EVIDENCE"
    return (f"{label}: {run.path}  ({run.package or '?'}, scenario {run.scenario or '?'}, "
            f"{status}, consent {run.consent}, {len(run.findings)} finding(s))")


def _finding_row(mark: str, f: FindingFacts, note: str = "") -> list[str]:
    to = f" -> {', '.join(sorted(f.hosts))}" if f.hosts else ""
    return [mark, f.rule, f.sdk, ", ".join(f.data_types) or "-", f"x{f.count}{to}{note}"]


def _change_note(c: FindingChange) -> str:
    parts = [f"x{c.old.count} -> x{c.new.count}"] if c.old.count != c.new.count else []
    parts += [f"host +{h}" for h in sorted(c.new.hosts - c.old.hosts)]
    parts += [f"host -{h}" for h in sorted(c.old.hosts - c.new.hosts)]
    parts += [f"recipient +{r}" for r in sorted(c.new.recipients - c.old.recipients)]
    parts += [f"recipient -{r}" for r in sorted(c.old.recipients - c.new.recipients)]
    return "; ".join(parts)


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=False))
            + "  " + r[-1] for r in rows]


def _pairs(title: str, new: dict[str, list[str]], gone: dict[str, list[str]]) -> list[str]:
    lines = [f"{title}: {'no change' if not new and not gone else ''}".rstrip()]
    lines += [f"  + {k}: {', '.join(v)}" for k, v in new.items()]
    lines += [f"  - {k}: {', '.join(v)}" for k, v in gone.items()]
    return lines


def render(diff: RunDiff) -> str:
    """The human table: runs, loud warnings, findings, hosts, recipients, reads, verdict."""
    lines = [_run_line("old", diff.old), _run_line("new", diff.new)]
    lines += [f"!! {w}" for w in diff.warnings]
    gone_mark = "-" if diff.new.sound else "-?"
    lines.append(f"findings: {len(diff.new_findings)} new, {len(diff.gone_findings)} gone"
                 f"{'' if diff.new.sound else ' (unconfirmed: the new run lost evidence)'}, "
                 f"{len(diff.changed_findings)} changed, {diff.unchanged} unchanged")
    rows = [_finding_row("+", f, "".join(f" (was: {', '.join(w) or '-'})" for w in diff.was(f)))
            for f in diff.new_findings]
    rows += [_finding_row(gone_mark, f) for f in diff.gone_findings]
    rows += [_finding_row("~", c.new, f" ({_change_note(c)})") for c in diff.changed_findings]
    if rows:
        lines += _table(rows)
    host_changes = [f"+{h}" for h in diff.hosts_new] + [f"-{h}" for h in diff.hosts_gone]
    lines.append(f"hosts contacted: {' '.join(host_changes) or 'no change'}")
    lines += _pairs("recipients of personal data", grouped(diff.new.recipients -
                                                            diff.old.recipients),
                    grouped(diff.old.recipients - diff.new.recipients))
    lines += _pairs("data types read per SDK", grouped(diff.new.reads - diff.old.reads),
                    grouped(diff.old.reads - diff.new.reads))
    lines.append(verdict(diff))
    return "\n".join(lines) + "\n"


def handle(args: argparse.Namespace) -> int:
    try:
        old, new = facts_of(analyze(args.old)), facts_of(analyze(args.new))
    except HarnessError as exc:
        # not 1, which a nightly job reads as "new findings"
        print(f"consentry: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    diff = diff_runs(old, new)
    if args.json:
        document = {**diff.to_json(), "exit": exit_code(diff)}
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True)
                         + "\n")
        for warning in diff.warnings:  # stdout is for the machine; a person still sees these
            print(f"consentry: warning: {warning}", file=sys.stderr)
    else:
        sys.stdout.write(render(diff))
    return exit_code(diff)
