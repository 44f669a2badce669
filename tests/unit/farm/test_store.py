"""The result store on SQLite: queued -> running -> outcome, findings, attempts and their
history, the order of nights. The same tests run on PostgreSQL in
tests/integration/test_farm_postgres.py."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ConfigError
from harness.farm.runner import FindingRow, Outcome
from harness.farm.spec import JobSpec
from harness.farm.store import FarmStore, default_url

SPEC = JobSpec(package="com.example.app", night="n1", scenario="reject",
               options={"settle": 1.5})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FarmStore]:
    s = FarmStore(default_url(tmp_path / "runs"))
    yield s
    s.close()


def _dir(root: Path) -> Callable[[int], Path]:
    return lambda n: root / f"attempt-{n}"


def check_round_trip(store: FarmStore, tmp_path: Path) -> None:
    store.record_queued("job-1", SPEC)
    (queued,) = store.runs_of("n1")
    assert (queued.status, queued.attempts, queued.device, queued.spec) == ("queued", 0, None,
                                                                              SPEC)
    assert store.record_started("job-1", SPEC, "emulator-5554", _dir(tmp_path)) == 1
    (running,) = store.runs_of("n1")
    assert (running.status, running.bundle) == ("running", str(tmp_path / "attempt-1"))
    outcome = Outcome(status="degraded", bundle=tmp_path / "attempt-1", started=100.0,
                      finished=142.5, error="degraded: plaintext capture",
                      findings=[FindingRow(rule="send-before-consent", sdk="Umeng",
                                           summary="sent imei (x2)"),
                                FindingRow(rule="collect-before-consent", sdk="app",
                                           summary="read imei", severity="high")])
    store.record_outcome("job-1", outcome)
    (done,) = store.runs_of("n1")
    assert (done.status, done.error, done.findings, done.seconds) == (
        "degraded", "degraded: plaintext capture", 2, 42.5)
    assert store.findings_of("job-1") == [
        {"rule": "send-before-consent", "severity": None, "sdk": "Umeng",
         "summary": "sent imei (x2)"},
        {"rule": "collect-before-consent", "severity": "high", "sdk": "app",
         "summary": "read imei"}]


def test_round_trip(store: FarmStore, tmp_path: Path) -> None:
    check_round_trip(store, tmp_path)


def check_redelivery_keeps_the_first_attempt(store: FarmStore, tmp_path: Path) -> None:
    store.record_queued("job-2", SPEC)
    store.record_started("job-2", SPEC, "dev-a", _dir(tmp_path))
    # the worker died here: no outcome; the broker hands the job out again
    assert store.record_started("job-2", SPEC, "dev-b", _dir(tmp_path)) == 2
    (row,) = [r for r in store.runs_of("n1") if r.job_id == "job-2"]
    assert (row.attempts, row.device, row.bundle) == (2, "dev-b", str(tmp_path / "attempt-2"))
    assert row.history == [{"attempt": 1, "device": "dev-a",
                            "status": "running (worker lost mid-session)", "error": None,
                            "bundle": str(tmp_path / "attempt-1")}]


def test_redelivery_keeps_the_first_attempt(store: FarmStore, tmp_path: Path) -> None:
    check_redelivery_keeps_the_first_attempt(store, tmp_path)


def test_a_job_the_worker_sees_first_is_recorded(store: FarmStore, tmp_path: Path) -> None:
    assert store.record_started("job-3", SPEC, "dev-a", _dir(tmp_path)) == 1
    (row,) = store.runs_of("n1")
    assert (row.job_id, row.status, row.history) == ("job-3", "running", [])
    store.mark_failed("job-3", "not queued: broker down")
    assert store.runs_of("n1")[0].status == "failed"


def check_nights_in_label_order(store: FarmStore) -> None:
    # a back-filled night sits between its neighbours, whatever the order of submission
    for night in ("2026-11-27", "2026-11-29", "2026-11-28", "2026-11-29.rerun"):
        store.record_queued(f"job-{night}", JobSpec(package="com.example.app", night=night))
    assert store.night_names() == ["2026-11-27", "2026-11-28", "2026-11-29",
                                   "2026-11-29.rerun"]
    assert store.previous_night("2026-11-28") == "2026-11-27"
    assert store.previous_night("2026-11-29") == "2026-11-28"
    assert store.previous_night("2026-11-29.rerun") == "2026-11-29"
    assert store.earlier_nights("2026-11-29") == ["2026-11-28", "2026-11-27"]
    assert store.previous_night("2026-11-27") is None
    assert store.previous_night("never") is None


def test_nights_in_label_order(store: FarmStore) -> None:
    check_nights_in_label_order(store)


def check_long_values_fit(store: FarmStore, tmp_path: Path) -> None:
    # VARCHAR(255) is enforced by PostgreSQL only: a deep scenario path failed there alone
    scenario = "/srv/farm/" + "scenarios/" * 40 + "reject.yaml"
    spec = JobSpec(package="com.example." + "x" * 300, night="n1", scenario=scenario)
    store.record_queued("job-long", spec)
    store.record_started("job-long", spec, "device-" + "y" * 300, _dir(tmp_path))
    store.record_outcome("job-long", Outcome(
        status="complete", bundle=None, started=1.0, finished=2.0,
        findings=[FindingRow(rule="r" * 300, sdk="s" * 300, summary="x", severity="z" * 60)]))
    (row,) = store.runs_of("n1")
    assert (row.spec.scenario, row.findings) == (scenario, 1)


def test_long_values_fit(store: FarmStore, tmp_path: Path) -> None:
    check_long_values_fit(store, tmp_path)


def check_a_stale_attempt_cannot_overwrite_a_newer_one(store: FarmStore,
                                                      tmp_path: Path) -> None:
    store.record_queued("job-s", SPEC)
    assert store.record_started("job-s", SPEC, "dev-a", _dir(tmp_path)) == 1
    # attempt 1 looked dead, the broker redelivered: attempt 2 started elsewhere
    assert store.record_started("job-s", SPEC, "dev-b", _dir(tmp_path)) == 2
    assert store.workers_lost("job-s") == 1
    late = Outcome(status="failed", bundle=None, started=1.0, finished=2.0, error="stale")
    assert store.record_outcome("job-s", late, attempt=1) is False
    (row,) = [r for r in store.runs_of("n1") if r.job_id == "job-s"]
    assert (row.status, row.error, row.attempts) == ("running", None, 2)
    done = Outcome(status="complete", bundle=None, started=1.0, finished=3.0,
                   findings=[FindingRow(rule="r", sdk="s", summary="x")])
    assert store.record_outcome("job-s", done, attempt=2) is True
    (row,) = [r for r in store.runs_of("n1") if r.job_id == "job-s"]
    assert (row.status, row.findings) == ("complete", 1)


def test_a_stale_attempt_cannot_overwrite_a_newer_one(store: FarmStore, tmp_path: Path) -> None:
    check_a_stale_attempt_cannot_overwrite_a_newer_one(store, tmp_path)


def _queue_on_a_new_night(url: str, worker: int, start: Any) -> str:
    store = FarmStore(url)
    start.wait()
    try:
        for i in range(20):
            store.record_queued(f"job-{worker}-{i}",
                                JobSpec(package="com.example.app", night=f"race-{i}"))
    except Exception as exc:  # reported to the parent, which fails the test with it
        return f"{type(exc).__name__}: {exc}"
    finally:
        store.close()
    return "ok"


def check_processes_racing_on_a_new_night(url: str) -> None:
    # SELECT-then-INSERT of the night lost jobs with "UNIQUE constraint failed" under load
    FarmStore(url).close()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager, ctx.Pool(6) as pool:
        start = manager.Barrier(6)
        results = pool.starmap(_queue_on_a_new_night, [(url, w, start) for w in range(6)])
    assert results == ["ok"] * 6
    store = FarmStore(url)
    assert sum(len(store.runs_of(f"race-{i}")) for i in range(20)) == 120
    store.close()


def test_processes_racing_on_a_new_night(tmp_path: Path) -> None:
    check_processes_racing_on_a_new_night(default_url(tmp_path))


def test_the_store_survives_reopening(tmp_path: Path) -> None:
    url = default_url(tmp_path)
    FarmStore(url).record_queued("job-1", SPEC)
    assert [r.job_id for r in FarmStore(url).runs_of("n1")] == ["job-1"]


@pytest.mark.parametrize("url", ["nosuchdb://x", "sqlite:////proc/no/such/dir/farm.db"])
def test_unusable_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError, match="--db"):
        FarmStore(url)
