"""Run one farm job: the same Session as ``consentry run``, then a verdict for the store.

The verdict (:class:`Outcome`) separates what the farm must tell apart:

- ``complete``   the run is sound; its findings are facts about the app;
- ``degraded``   the run finished but lost part of its evidence (a capture part, a rule);
- ``incomplete`` the bundle was cut short (the manifest says so);
- ``failed``     the session raised: nothing to judge, ``error`` says why.

A device fault (:func:`is_device_fault`) is the only failure worth a retry elsewhere; a
finding is never a failure.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError, DeviceError, HarnessError, InstallFailed
from harness.farm.spec import JobSpec
from harness.specimen import facts as specimen_facts

# The session (and through it frida) is imported only when a job runs: a Celery prefork
# worker forks its child after importing this module, and frida's threads do not survive
# a fork (the child hangs at the first attach).
if TYPE_CHECKING:
    from harness.session import SessionOptions, SessionResult
    from harness.targets.base import AppSpec, Target


@dataclass(frozen=True, slots=True, kw_only=True)
class FindingRow:
    rule: str
    sdk: str
    summary: str
    severity: str | None = None
    """The rules carry no severity yet; kept for when they do (``details.severity``)."""


@dataclass(slots=True, kw_only=True)
class Outcome:
    status: str
    """complete, degraded, incomplete or failed (see the module docstring)."""
    bundle: Path | None
    started: float
    finished: float
    error: str | None = None
    problems: tuple[str, ...] = ()
    findings: list[FindingRow] = field(default_factory=list)
    device_fault: bool = False


def is_device_fault(exc: BaseException) -> bool:
    """A fault of the device (not found, offline, adb gone), not of the app or the harness:
    another device may well run the same job. Not an install failure (mostly the APK's
    fault), nor a Frida failure (an app that dies at start looks the same as a dead
    frida-server, and retrying a crashing app on every device only hides the crash)."""
    return isinstance(exc, DeviceError) and not isinstance(exc, InstallFailed)


def device_problem(serial: str, target: str) -> str | None:
    """Why device ``serial`` cannot run sessions now, or None when it answers (adb state and
    ``echo ok``). A local target's "device" is this machine: always there."""
    if target != "android":
        return None
    from harness.device.adb import AdbutilsDevice

    try:
        return AdbutilsDevice(serial).confirm_lost()
    except DeviceError as exc:
        return str(exc)


def run_dir_for(runs: Path, spec: JobSpec, job_id: str) -> Path:
    # one folder per attempt: a redelivered job never writes over the evidence of the first
    safe = spec.scenario.replace("/", "_").replace(".yaml", "")
    return runs / spec.night / f"{spec.package}-{safe}-{spec.target}-{job_id}"


def _options(spec: JobSpec, out: Path, resolve: list[str]) -> SessionOptions:
    from harness.commands.common import categories
    from harness.session import SessionOptions

    settle = spec.options.get("settle", 2.0)
    return SessionOptions(out=out, categories=categories(spec.options.get("categories")),
                          settle=float(settle), clear=bool(spec.options.get("clear", True)),
                          resolve=resolve, ssl_insecure=bool(resolve))


@contextmanager
def _target(spec: JobSpec, serial: str, out: Path) -> Iterator[tuple[Target, AppSpec,
                                                                     list[str]]]:
    """Target, app and proxy host overrides; the bundled specimen gets its local tracker."""
    from harness.targets.base import AppSpec

    if spec.target == "android":
        from harness.targets.android import AndroidTarget

        if spec.apk is not None and not Path(spec.apk).is_file():
            raise ConfigError(f"apk {spec.apk}: no such file on this worker")
        yield (AndroidTarget(serial), AppSpec(package=spec.package,
                                              apk=Path(spec.apk) if spec.apk else None), [])
        return
    from harness.targets.local import LocalTarget

    command = spec.options.get("command")
    if command:
        yield LocalTarget(log_dir=out), AppSpec(package=spec.package,
                                                command=shlex.split(command)), []
        return
    if spec.package != specimen_facts.PACKAGE:
        raise ConfigError(f"{spec.package}: the local target needs options.command "
                          f"(only {specimen_facts.PACKAGE}, the bundled specimen, runs without)")
    from harness.specimen.setup import specimen_with_tracker

    # as `consentry demo`: the specimen's trackers are served locally through the proxy
    with specimen_with_tracker(spec.options.get("variant", "default")) as specimen:
        yield LocalTarget(log_dir=out), specimen.app, specimen.resolve


def verdict(result: SessionResult) -> tuple[str, tuple[str, ...], list[FindingRow]]:
    from harness.analysis.diff import facts_of

    if result.analysis is None:
        return result.status, (), []
    problems = facts_of(result.analysis).problems
    rows = [FindingRow(rule=f.rule, sdk=f.sdk,
                       summary=f"{f.title} ({', '.join(f.data_types) or '-'}, x{f.count})",
                       severity=_severity(f.details))
            for f in result.analysis.findings]
    if result.analysis.status != "complete":
        return "incomplete", problems, rows
    return ("degraded" if problems else "complete"), problems, rows


def _severity(details: dict[str, Any]) -> str | None:
    value = details.get("severity")
    return str(value) if value is not None else None


def run_job(spec: JobSpec, serial: str, out: Path) -> Outcome:
    """Run ``spec`` on device ``serial`` into ``out``; never raises for a session failure."""
    from harness.scenario.loader import load_scenario
    from harness.session import Session

    started = time.time()
    try:
        scenario = load_scenario(spec.scenario)
        with _target(spec, serial, out) as (target, app, resolve):
            result = Session(target, app, scenario, _options(spec, out, resolve)).run()
    except HarnessError as exc:
        return Outcome(status="failed", bundle=out if out.exists() else None, started=started,
                       finished=time.time(), error=f"{type(exc).__name__}: {exc}",
                       device_fault=is_device_fault(exc))
    status, problems, rows = verdict(result)
    return Outcome(status=status, bundle=result.run_dir, started=started, finished=time.time(),
                   error=result.reason or ("; ".join(problems) or None), problems=problems,
                   findings=rows)
