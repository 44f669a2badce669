"""Running sessions for one test: each ``run()`` gets its own bundle directory under the
test's output directory, and every run started is remembered for the failure report, even
one that raised."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.capture.proxy import CaptureMode
from harness.errors import ConfigError, HarnessError
from harness.pytest_support.apps import AppUnderTest
from harness.pytest_support.result import ConsentryRun, RunIncomplete
from harness.pytest_support.steps import Steps
from harness.scenario.loader import load_scenario
from harness.scenario.model import Scenario
from harness.session import Session, SessionOptions

ScenarioLike = str | os.PathLike[str] | Scenario | Steps | Sequence[Any]
"""A built-in scenario name, a YAML path, a ``Scenario``, a :class:`Steps` chain, or a list of
steps as a scenario file writes them (``["launch", {"wait": 2}, {"consent": "reject"}]``)."""


def to_scenario(scenario: ScenarioLike, name: str | None = None) -> Scenario:
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, Steps):
        return scenario.build(name or "steps")
    if isinstance(scenario, str | os.PathLike):
        return load_scenario(os.fspath(scenario))
    if isinstance(scenario, Sequence):
        return Steps(tuple(scenario)).build(name or "steps")
    raise TypeError(f"a scenario is a name, a path, a Scenario, a Steps chain or a list of "
                    f"steps, not {type(scenario).__name__}")


def slug(text: str, limit: int = 60) -> str:
    """A file-name-safe form of ``text`` (test ids, scenario names)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")
    return cleaned[:limit] or "run"


def unique_slug(text: str, limit: int = 120) -> str:
    """:func:`slug` plus a hash of ``text``: ``test[a b]`` and ``test[a-b]`` (or two long ids
    cut to one prefix) must not share a folder, or one test's setup deletes the other's kept
    evidence."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{slug(text, limit)}-{digest}"


@dataclass(slots=True, kw_only=True)
class RunRecord:
    """A run this test started; ``result`` is None when the session raised."""

    dir: Path
    scenario: str
    result: ConsentryRun | None = None
    error: str | None = None

    def summary(self) -> str:
        if self.result is not None:
            return self.result.summary()
        return (f"scenario {self.scenario!r} raised before its analysis: {self.error}\n"
                f"bundle (partial): {self.dir}")


class Consentry:
    """The ``consentry`` fixture: runs scenarios against the test's app."""

    def __init__(self, app: AppUnderTest, out: Path, *, capture: CaptureMode = "regular",
                 settle: float = 2.0) -> None:
        self.app = app
        self.out = out
        self.capture: CaptureMode = capture
        self.settle = settle
        self.runs: list[RunRecord] = []

    def run(self, scenario: ScenarioLike, *, name: str | None = None,
            app: AppUnderTest | None = None, settle: float | None = None,
            capture: CaptureMode | None = None, categories: set[str] | None = None,
            clear: bool = True, allow_degraded: bool = False) -> ConsentryRun:
        """Run ``scenario`` and analyse the bundle.

        Raises ``RunIncomplete`` when the run lost evidence (manifest status incomplete, or
        degraded unless ``allow_degraded``), and lets any other consentry error through: a
        run whose evidence is partial must fail the test, never look clean.
        """
        chosen = app or self.app
        resolved = to_scenario(scenario, name)
        run_dir = self.out / f"{len(self.runs) + 1}-{slug(resolved.name)}"
        if run_dir.exists():
            raise ConfigError(f"{run_dir} already exists; remove it or use another "
                              "--consentry-output")
        record = RunRecord(dir=run_dir, scenario=resolved.name)
        self.runs.append(record)
        try:
            with contextlib.ExitStack() as stack:
                prepared = chosen.open(run_dir, stack)
                options = SessionOptions(out=run_dir, settle=self.settle if settle is None
                                         else settle, capture=capture or self.capture,
                                         categories=categories, clear=clear,
                                         **prepared.session_options)
                result = Session(prepared.target, prepared.app, resolved, options).run()
        except BaseException as exc:  # noted for the failure report, then re-raised as is
            record.error = str(exc) if isinstance(exc, HarnessError) else (
                f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            raise
        run = ConsentryRun(dir=run_dir, scenario=resolved, app=chosen.describe(),
                           analysis=result.analysis)
        record.result = run
        if run.status != "complete":
            reason = run.analysis.context.bundle.manifest.get("incomplete_reason")
            raise RunIncomplete(run_dir, f"status {run.status}: {reason or 'no reason given'}")
        # Warnings (e.g. a body not fully searched) lose evidence as surely as degradation.
        lost = [*run.degraded, *run.warnings]
        if lost and not allow_degraded:
            raise RunIncomplete(run_dir, f"degraded: {'; '.join(lost)} (pass "
                                         "allow_degraded=True to accept that)")
        return run
