"""The Celery adapter's settings (one job at a time per device, no job lost when a worker
dies) and its retry rule, run eagerly on the in-memory transport with the session replaced:
a device fault is retried on the pool, nothing else is."""

from __future__ import annotations

import itertools
import socket
from pathlib import Path

import pytest
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

from harness.errors import ConfigError, DeviceNotFound, InstallFailed, InstrumentationError
from harness.farm import celery_app
from harness.farm.celery_app import (
    DEVICE_RETRIES,
    HARD_LIMIT_GRACE,
    POOL_COOL_DOWN,
    POOL_QUEUE,
    PROBE_TASK,
    SESSION_TIME_LIMIT,
    TASK_NAME,
    VISIBILITY_TIMEOUT,
    WORKERS_LOST,
    device_queue,
    make_app,
    node_name,
    worker_queues,
)
from harness.farm.runner import FindingRow, Outcome, is_device_fault
from harness.farm.spec import JobSpec
from harness.farm.store import FarmStore, StoreError, default_url

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
    # a session is stopped (soft) and killed (hard) well before Redis would redeliver it
    assert conf.task_soft_time_limit == SESSION_TIME_LIMIT
    assert conf.task_soft_time_limit < conf.task_time_limit < VISIBILITY_TIMEOUT
    assert make_app("memory://", time_limit=60).conf.task_time_limit == 60 + HARD_LIMIT_GRACE
    with pytest.raises(ConfigError, match="--time-limit"):
        make_app("memory://", time_limit=VISIBILITY_TIMEOUT)
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


class Eager:
    """The app on the in-memory transport, its control calls and sends noted."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.app = make_app("memory://", db=default_url(tmp_path), runs=tmp_path / "runs",
                            serial="dev-a")
        self.monkeypatch = monkeypatch
        self.cancelled: list[tuple[str, list[str]]] = []
        self.added: list[tuple[str, list[str]]] = []
        self.sent: list[tuple[str, list[object], dict[str, object]]] = []
        self.retries: list[dict[str, object]] = []
        control = self.app.control
        monkeypatch.setattr(control, "cancel_consumer", lambda queue, destination:
                            self.cancelled.append((queue, destination)))
        monkeypatch.setattr(control, "add_consumer", lambda queue, destination:
                            self.added.append((queue, destination)))
        monkeypatch.setattr(self.app, "send_task", lambda name, args, **kw:
                            self.sent.append((name, args, kw)))
        task = self.app.tasks[TASK_NAME]
        retry = task.retry

        def noted_retry(*args: object, **kwargs: object) -> object:
            self.retries.append(kwargs)
            return retry(*args, **kwargs)

        monkeypatch.setattr(task, "retry", noted_retry)
        self.ids = (f"job-{n}" for n in itertools.count())

    def run(self, outcomes: list[Outcome] | FakeRunner, device: str | None = None,
            job_id: str | None = None) -> tuple[object, FakeRunner, str]:
        runner = outcomes if isinstance(outcomes, FakeRunner) else FakeRunner(outcomes)
        self.monkeypatch.setattr(celery_app, "run_job", runner)
        job_id = job_id or next(self.ids)
        result = self.app.tasks[TASK_NAME].apply(args=[SPEC.to_json()],
                                                 kwargs={"device": device}, task_id=job_id)
        return result, runner, job_id


@pytest.fixture
def eager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    e = Eager(tmp_path, monkeypatch)
    return e.run, FarmStore(default_url(tmp_path)), e.cancelled


@pytest.fixture
def farm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Eager, FarmStore]:
    return Eager(tmp_path, monkeypatch), FarmStore(default_url(tmp_path))


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


def test_a_job_that_keeps_killing_its_worker_is_failed_not_requeued(farm) -> None:
    eager, store = farm
    store.record_queued("job-x", SPEC)
    for n in range(WORKERS_LOST):  # each attempt's worker died mid-session
        store.record_started("job-x", SPEC, f"dev-{n}", lambda k: Path(f"/runs/a-{k}"))
    result, runner, _ = eager.run([_outcome("complete")], job_id="job-x")
    assert result.get() == "failed" and runner.calls == []
    (row,) = store.runs_of("n1")
    assert row.status == "failed" and row.attempts == WORKERS_LOST + 1
    assert (row.error or "").startswith(f"failed: worker lost {WORKERS_LOST} times")
    assert [h["bundle"] for h in row.history] == [f"/runs/a-{k}"
                                                  for k in range(1, WORKERS_LOST + 1)]


def test_fewer_lost_workers_still_run_the_job(farm) -> None:
    eager, store = farm
    store.record_queued("job-y", SPEC)
    for _ in range(WORKERS_LOST - 1):
        store.record_started("job-y", SPEC, "dev-a", lambda k: Path(f"/runs/a-{k}"))
    result, runner, _ = eager.run([_outcome("complete")], job_id="job-y")
    assert result.get() == "complete" and len(runner.calls) == 1


def test_a_store_that_cannot_be_written_retries_the_job(farm, monkeypatch) -> None:
    eager, store = farm
    real = FarmStore.record_outcome
    failures = iter([True])

    def flaky(self: FarmStore, *args: object, **kwargs: object) -> bool:
        if next(failures, False):
            raise StoreError("result store sqlite:///x: database is locked")
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(FarmStore, "record_outcome", flaky)
    result, runner, _ = eager.run([_outcome("complete", findings=1), _outcome("complete",
                                                                               findings=1)])
    assert result.get() == "complete"
    assert len(runner.calls) == 2  # run again, not acknowledged unrecorded
    assert eager.retries and eager.retries[0]["countdown"] == celery_app.STORE_RETRY_DELAY
    (row,) = store.runs_of("n1")
    assert (row.status, row.findings, row.attempts) == ("complete", 1, 2)


class SlowRunner(FakeRunner):
    def __call__(self, spec: JobSpec, serial: str, out: Path) -> Outcome:
        out.mkdir(parents=True)
        raise SoftTimeLimitExceeded()


def test_a_session_past_its_soft_time_limit_is_recorded_as_failed(farm) -> None:
    eager, store = farm
    result, _, _ = eager.run(SlowRunner([]))
    assert result.get() == "failed"
    (row,) = store.runs_of("n1")
    assert row.status == "failed" and "time limit" in (row.error or "")
    assert row.bundle is not None and row.bundle.endswith("-1")  # its evidence is kept


def test_the_hard_time_limit_is_recorded(farm) -> None:
    eager, store = farm
    store.record_queued("job-h", SPEC)
    store.record_started("job-h", SPEC, "dev-a", lambda k: Path("/runs/h"))
    task = eager.app.tasks[TASK_NAME]
    task.on_failure(TimeLimitExceeded(7500), "job-h", [], {}, None)
    (row,) = store.runs_of("n1")
    assert row.status == "failed" and "hard time limit" in (row.error or "")


def test_a_pinned_job_retries_on_its_own_device_queue(farm) -> None:
    eager, store = farm
    result, runner, _ = eager.run([_outcome("failed", fault=True), _outcome("complete")],
                                  device="dev-a")
    assert result.get() == "complete" and len(runner.calls) == 2
    assert eager.retries[0]["queue"] == device_queue("dev-a")
    (row,) = store.runs_of("n1")
    assert "retried again on dev-a" in row.history[0]["error"]


def test_a_faulty_device_is_probed_back_into_the_pool(farm, monkeypatch) -> None:
    eager, _ = farm
    eager.run([_outcome("failed", fault=True), _outcome("complete")])
    assert eager.retries[0]["queue"] == POOL_QUEUE
    host = socket.gethostname()
    assert eager.cancelled == [(POOL_QUEUE, [host])]
    probe = (PROBE_TASK, [host, "android"], {"queue": device_queue("dev-a"),
                                            "countdown": POOL_COOL_DOWN})
    assert eager.sent == [probe]
    # still broken: out of the pool, probed again later
    monkeypatch.setattr(celery_app, "device_problem", lambda serial, target: "offline")
    assert eager.app.tasks[PROBE_TASK].apply(args=[host, "android"]).get() == "unhealthy"
    assert eager.added == [] and eager.sent == [probe, probe]
    checked: list[tuple[str, str]] = []

    def healthy(serial: str, target: str) -> None:
        checked.append((serial, target))

    monkeypatch.setattr(celery_app, "device_problem", healthy)
    assert eager.app.tasks[PROBE_TASK].apply(args=[host, "android"]).get() == "healthy"
    assert eager.added == [(POOL_QUEUE, [host])] and checked == [("dev-a", "android")]
