"""Tonight against the previous night, app by app, with :mod:`harness.analysis.diff`.

Runs are paired on the spec identity (package, scenario, target). Each pair is compared as
``consentry diff`` compares two bundles (both re-analysed with the current rules); on top of
that the farm adds what only it knows: apps whose run is missing tonight (last night had one,
tonight none finished), runs that failed or lost evidence (tonight's bundle unreadable
included), and apps with findings but no usable earlier run to compare with (new apps, or
every earlier run failed or is gone), which fail too: nobody has seen those findings pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.analysis.diff import RunDiff, diff_runs, facts_of
from harness.analysis.engine import analyze
from harness.commands.diff import exit_code as diff_exit_code
from harness.errors import HarnessError
from harness.farm.spec import Identity
from harness.farm.store import FINAL, FarmStore, RunRow

NIGHT_DIFF_SCHEMA = 1
EXIT_NO_NEW, EXIT_NEW, EXIT_USAGE = 0, 1, 2


@dataclass(slots=True, kw_only=True)
class AppDiff:
    identity: Identity
    tonight: RunRow | None
    previous: RunRow | None
    """The baseline: the latest usable run of an earlier night (see :func:`night_diff`)."""
    diff: RunDiff | None = None
    problem: str | None = None
    """Why this app could not be compared, or what went wrong tonight."""
    tonight_unreadable: bool = False
    """Tonight's run finished but its bundle cannot be analysed (deleted, corrupt)."""
    tonight_findings: int | None = None
    """Findings of tonight's run as analysed now; None when it was not analysed."""
    seen_before: bool = False
    """Some earlier night has a run of this app (usable or not)."""
    baseline_note: str | None = None
    """Why the baseline is not the --against night's run (which nights were skipped)."""

    @property
    def kind(self) -> str:
        """missing, lost-evidence, new-app, no-baseline or compared."""
        if self.tonight is None or self.tonight.status not in FINAL:
            return "missing"
        if (self.tonight_unreadable or self.tonight.status != "complete"
                or (self.diff is not None and not self.diff.new.sound)):
            return "lost-evidence"
        if self.diff is None:
            return "no-baseline" if self.seen_before else "new-app"
        return "compared"

    @property
    def failing(self) -> bool:
        if self.kind in ("missing", "lost-evidence"):
            return True
        if self.diff is not None:
            return diff_exit_code(self.diff) != 0
        # nothing to compare with: findings nobody has seen pass yet must not go green
        return bool(self.tonight_findings)

    def to_json(self) -> dict[str, Any]:
        package, scenario, target = self.identity
        return {"package": package, "scenario": scenario, "target": target, "kind": self.kind,
                "failing": self.failing, "problem": self.problem,
                "tonight_unreadable": self.tonight_unreadable,
                "tonight_findings": self.tonight_findings,
                "baseline_night": self.previous.night if self.previous is not None else None,
                "baseline_note": self.baseline_note,
                "tonight": _run_json(self.tonight), "previous": _run_json(self.previous),
                "diff": self.diff.to_json() if self.diff is not None else None}


def _run_json(row: RunRow | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"job_id": row.job_id, "status": row.status, "error": row.error,
            "bundle": row.bundle, "device": row.device, "attempts": row.attempts,
            "findings": row.findings}


@dataclass(slots=True, kw_only=True)
class NightDiff:
    night: str
    against: str
    apps: list[AppDiff] = field(default_factory=list)

    def count(self, what: str) -> int:
        return sum(len(getattr(a.diff, what)) if what != "unchanged" else a.diff.unchanged
                   for a in self.apps if a.diff is not None)

    def of_kind(self, kind: str) -> list[AppDiff]:
        return [a for a in self.apps if a.kind == kind]

    @property
    def exit_code(self) -> int:
        return EXIT_NEW if any(a.failing for a in self.apps) else EXIT_NO_NEW

    def to_json(self) -> dict[str, Any]:
        return {"schema": NIGHT_DIFF_SCHEMA, "night": self.night, "against": self.against,
                "summary": {"new": self.count("new_findings"),
                            "gone": self.count("gone_findings"),
                            "changed": self.count("changed_findings"),
                            "unchanged": self.count("unchanged"),
                            "missing": [a.identity[0] for a in self.of_kind("missing")],
                            "lost_evidence": [a.identity[0]
                                              for a in self.of_kind("lost-evidence")],
                            "new_apps": [a.identity[0] for a in self.of_kind("new-app")],
                            "unbaselined": [a.identity[0] for a in self.apps
                                            if a.diff is None and a.failing
                                            and a.kind in ("new-app", "no-baseline")]},
                "apps": [a.to_json() for a in self.apps], "exit": self.exit_code}


def latest_runs(rows: list[RunRow]) -> dict[Identity, RunRow]:
    """Per identity, the run that speaks for the night: the last one to finish, else the
    last queued (still queued or running: it is missing for now)."""
    best: dict[Identity, RunRow] = {}
    for row in rows:
        seen = best.get(row.spec.identity)
        rank = (row.status in FINAL, row.finished or 0.0, row.queued or 0.0)
        if seen is None or rank > (seen.status in FINAL, seen.finished or 0.0,
                                   seen.queued or 0.0):
            best[row.spec.identity] = row
    return best


def _facts(row: RunRow) -> Any:
    if not row.bundle or not Path(row.bundle).is_dir():
        raise HarnessError(f"its bundle {row.bundle or '(none)'} is not on this machine")
    return facts_of(analyze(Path(row.bundle)))


USABLE = ("complete", "degraded", "incomplete")
"""Statuses of a run that can serve as a baseline (if its bundle can still be read)."""


class _Nights:
    """The runs of earlier nights, read from the store once and only when needed."""

    def __init__(self, store: FarmStore, newest_first: list[str]) -> None:
        self.store, self.names = store, newest_first
        self._runs: dict[str, list[RunRow]] = {}

    def runs(self, night: str, identity: Identity) -> list[RunRow]:
        if night not in self._runs:
            self._runs[night] = self.store.runs_of(night)
        return [r for r in self._runs[night] if r.spec.identity == identity]

    def baseline(self, identity: Identity) -> tuple[RunRow | None, Any, bool, list[str]]:
        """(run, its facts, seen before, nights skipped and why), newest usable run first."""
        skipped: list[str] = []
        seen = False
        for night in self.names:
            rows = self.runs(night, identity)
            seen = seen or bool(rows)
            usable = sorted((r for r in rows if r.status in USABLE),
                            key=lambda r: (r.finished or 0.0, r.queued or 0.0), reverse=True)
            for row in usable:
                try:
                    return row, _facts(row), True, skipped
                except HarnessError as exc:
                    skipped.append(f"{night}: {row.status} run unreadable ({exc})")
            if rows and not usable:
                last = latest_runs(rows)[identity]
                skipped.append(f"{night}: {last.status}"
                               + (f" ({last.error})" if last.error else ""))
        return None, None, seen, skipped


def night_diff(store: FarmStore, night: str, against: str,
               progress: Callable[[int, int, Identity], None] | None = None) -> NightDiff:
    """Compare every app of ``night`` with its latest usable run of ``against`` or, when
    that night has none (the run failed, was never submitted, its bundle is gone), of the
    latest night before it that has one. The apps compared are tonight's and ``against``'s."""
    tonight = latest_runs(store.runs_of(night))
    previous = latest_runs(store.runs_of(against))
    earlier = _Nights(store, [against, *store.earlier_nights(against)])
    result = NightDiff(night=night, against=against)
    identities = sorted(tonight.keys() | previous.keys())
    for index, identity in enumerate(identities):
        if progress is not None:
            progress(index + 1, len(identities), identity)
        app = AppDiff(identity=identity, tonight=tonight.get(identity),
                      previous=previous.get(identity))
        result.apps.append(app)
        if app.tonight is None or app.tonight.status not in FINAL:
            app.problem = ("no run tonight" if app.tonight is None
                           else f"tonight's run is still {app.tonight.status}")
            continue
        if app.tonight.status == "failed":
            app.problem = f"tonight's run failed: {app.tonight.error}"
            continue
        try:
            new = _facts(app.tonight)
        except HarnessError as exc:
            # evidence that existed and is gone: never "no baseline", never green
            app.tonight_unreadable = True
            app.problem = f"tonight's {app.tonight.status} run cannot be read: {exc}"
            continue
        app.tonight_findings = len(new.findings)
        baseline, old, app.seen_before, skipped = earlier.baseline(identity)
        app.previous = baseline or app.previous
        if skipped:
            app.baseline_note = "; ".join(skipped)
        if baseline is None:
            app.problem = ("no usable earlier run: " + "; ".join(skipped) if skipped
                           else "first run of this app") + (
                f"; {app.tonight_findings} finding(s) not compared with anything"
                if app.tonight_findings else "")
            continue
        app.diff = diff_runs(old, new)
    return result


def render(diff: NightDiff) -> str:
    """The text summary: one line per app, then the findings that are new or gone."""
    lines = [f"night {diff.night} against {diff.against}: {len(diff.apps)} app(s); "
             f"findings {diff.count('new_findings')} new, {diff.count('gone_findings')} gone, "
             f"{diff.count('changed_findings')} changed, {diff.count('unchanged')} unchanged"]
    for app in diff.apps:
        package, scenario, target = app.identity
        name = f"{package} [{scenario}, {target}]"
        if app.diff is not None:
            d = app.diff
            mark = "!!" if app.failing else "ok"
            lines.append(f"{mark} {name}: {len(d.new_findings)} new, {len(d.gone_findings)} "
                         f"gone, {len(d.changed_findings)} changed, {d.unchanged} unchanged")
            if app.baseline_note and app.previous is not None:
                lines.append(f"     baseline from night {app.previous.night} "
                             f"({app.baseline_note})")
            lines += [f"     + {f.rule}  {f.sdk}  {', '.join(f.data_types) or '-'}"
                      for f in d.new_findings]
            gone = "-" if d.new.sound else "-?"
            lines += [f"     {gone} {f.rule}  {f.sdk}  {', '.join(f.data_types) or '-'}"
                      for f in d.gone_findings]
            lines += [f"     !! {w}" for w in d.warnings]
        else:
            label = {"missing": "MISSING", "lost-evidence": "LOST EVIDENCE",
                     "new-app": "NEW APP", "no-baseline": "NO BASELINE"}[app.kind]
            label = ("!! " if app.failing else ".. ") + label
            lines.append(f"{label} {name}" + (f": {app.problem}" if app.problem else ""))
    failing = sum(a.failing for a in diff.apps)
    lines.append(f"verdict: {failing} app(s) need a look (exit 1)" if failing
                 else "verdict: no new finding, no lost or missing run (exit 0)")
    return "\n".join(lines) + "\n"
