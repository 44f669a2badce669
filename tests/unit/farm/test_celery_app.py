"""The Celery adapter's settings (one job at a time per device, no job lost when a worker
dies) and its retry rule, run eagerly on the in-memory transport with the session replaced:
a device fault is retried on the pool, nothing else is."""

from __future__ import annotations

import itertools
import socket
from pathlib import Path

import pytest

from harness.errors import ConfigError, DeviceNotFound, InstallFailed, InstrumentationError
from harness.farm import celery_app
from harness.farm.celery_app import (
    DEVICE_RETRIES,
    POOL_QUEUE,
    TASK_NAME,
    device_queue,
    make_app,
    node_name,
    worker_queues,
)
from harness.farm.runner import FindingRow, Outcome, is_device_fault
from harness.farm.spec import JobSpec
from harness.farm.store import FarmStore, default_url

SPEC = JobSpec(package="com.example.app", night="n1")


def test_worker_lost_and_routing_settings() -> None:
    conf = make_app("redis://localhost:6379/0").conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1 and conf.worker_concurrency == 1
    assert conf.task_default_queue == POOL_QUEUE
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    # longer than any session, or Redis would hand a running job to a second worker
    assert conf.broker_transport_options["visibility_timeout"] >= 3600
    assert worker_queues("emulator-5554") == ["consentry.device.emulator-5554", POOL_QUEUE]
    assert node_name("192.168.1.5:5555") == "consentry-192.168.1.5-5555@%h"


def test_a_broker_that_is_not_a_url() -> None:
    with pytest.raises(ConfigError, match="CONSENTRY_BROKER"):
        make_app("localhost")


@pytest.mark.parametrize(("exc", "fault"), [
    (DeviceNotFound("emulator-5554 offline"), True),
    (InstallFailed("INSTALL_PARSE_FAILED_NOT_APK"), False),
    (InstrumentationError("the app process ended"), False),
    (ConfigError("no such scenario"), False),
])
def test_device_faults(exc: Exception, fault: bool) -> None:
    assert is_device_fault(exc) is fault


class FakeRunner:
    """Replaces the session: hands out the given outcomes in turn and notes the devices."""

    def __init__(self, outcomes: list[Outcome]) -> None:
        self.outcomes = iter(outcomes)
        self.calls: list[tuple[str, Path]] = []

    def __call__(self, spec: JobSpec, serial: str, out: Path) -> Outcome:
        self.calls.append((serial, out))
        return next(self.outcomes)


def _outcome(status: str, *, fault: bool = False, findings: int = 0) -> Outcome:
    return Outcome(status=status, bundle=None, started=1.0, finished=2.0,
                   error="DeviceNotFound: offline" if fault else None, device_fault=fault,
                   findings=[FindingRow(rule="r", sdk="s", summary="x")] * findings)


@pytest.fixture
def eager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    app = make_app("memory://", db=default_url(tmp_path), runs=tmp_path / "runs",
                   serial="dev-a")
    cancelled: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(app.control, "cancel_consumer",
                        lambda queue, destination: cancelled.append((queue, destination)))
    ids = (f"job-{n}" for n in itertools.count())

    def run(outcomes: list[Outcome] | FakeRunner) -> tuple[object, FakeRunner, str]:
        runner = outcomes if isinstance(outcomes, FakeRunner) else FakeRunner(outcomes)
        monkeypatch.setattr(celery_app, "run_job", runner)
        job_id = next(ids)
        result = app.tasks[TASK_NAME].apply(args=[SPEC.to_json()], task_id=job_id)
        return result, runner, job_id

    return run, FarmStore(default_url(tmp_path)), cancelled


def test_a_device_fault_is_retried_and_the_device_leaves_the_pool(eager) -> None:
    run, store, cancelled = eager
    result, runner, job_id = run([_outcome("failed", fault=True), _outcome("complete")])
    assert result.get() == "complete"
    assert len(runner.calls) == 2
    first, second = (out for _, out in runner.calls)
    assert first != second and first.name.endswith("-1") and second.name.endswith("-2")
    # only this worker stops taking pool jobs (eager runs name the node after the host)
    assert cancelled == [(POOL_QUEUE, [socket.gethostname()])]
    (row,) = store.runs_of("n1")
    assert (row.status, row.attempts) == ("complete", 2)
    assert row.history[0]["status"] == "failed"
    assert "retried on another device" in row.history[0]["error"]


def test_device_faults_stop_after_the_retries(eager) -> None:
    run, store, _ = eager
    result, runner, _ = run([_outcome("failed", fault=True)] * (DEVICE_RETRIES + 1))
    assert result.get(propagate=False) == "failed"
    assert len(runner.calls) == DEVICE_RETRIES + 1
    (row,) = store.runs_of("n1")
    assert (row.status, row.attempts) == ("failed", DEVICE_RETRIES + 1)
    assert "retried" not in (row.error or "")  # the last one is not


@pytest.mark.parametrize("outcome", [_outcome("complete", findings=3), _outcome("failed"),
                                     _outcome("incomplete"), _outcome("degraded")])
def test_findings_and_other_failures_are_never_retried(eager, outcome: Outcome) -> None:
    run, store, cancelled = eager
    result, runner, _ = run([outcome])
    assert result.get() == outcome.status
    assert len(runner.calls) == 1 and cancelled == []
    (row,) = store.runs_of("n1")
    assert (row.status, row.attempts, row.findings) == (outcome.status, 1,
                                                        len(outcome.findings))


def test_device_queue_name() -> None:
    assert device_queue("emulator-5554") == "consentry.device.emulator-5554"



class BrokenRunner(FakeRunner):
    def __call__(self, spec: JobSpec, serial: str, out: Path) -> Outcome:
        raise RuntimeError("bug in a rule loader")


def test_a_harness_bug_is_recorded_not_left_running(eager) -> None:
    run, store, _ = eager
    result, _, _ = run(BrokenRunner([]))
    assert result.failed()
    (row,) = store.runs_of("n1")
    assert row.status == "failed"
    assert row.error == "harness error: RuntimeError: bug in a rule loader"
