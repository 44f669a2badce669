"""The farm end to end: a real redis-server, a real Celery worker (``consentry farm worker``
in a subprocess, prefork, concurrency 1) driving the specimen on the local target, the
SQLite store, and the night-to-night diff through the CLI.

Night 1: the specimen (accept) and an app whose scenario file does not exist (fails at once,
no session). Night 2: the specimen only, so night 2 has the specimen compared with night 1
and the other app missing. Two specimen sessions in all."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import ConfigError
from harness.farm.celery_app import SerialLock, make_app, submit
from harness.farm.spec import JobSpec
from harness.farm.store import FarmStore, default_url
from harness.specimen import facts
from tests.conftest import require_tool

pytestmark = pytest.mark.integration

RUN_TIMEOUT = 240


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway redis-server on a free port (no persistence)."""
    exe = require_tool("redis-server", "apt-get install redis-server (the farm's broker)")
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while not _ping(port):
        assert proc.poll() is None, "redis-server exited at start"
        assert time.monotonic() < deadline, "redis-server did not answer PING"
        time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory, broker: str, jdk: str,
         agent_bundle: object) -> Iterator[tuple[str, Path, int]]:
    """A worker for the device "local-1": (broker URL, runs folder, worker pid)."""
    runs = tmp_path_factory.mktemp("farm") / "runs"
    log = (runs.parent / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "farm", "worker", "--serial", "local-1",
         "--broker", broker, "--runs", str(runs)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    yield broker, runs, worker.pid
    worker.send_signal(signal.SIGTERM)  # Celery's warm shutdown
    try:
        worker.wait(60)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(10)
    log.close()


def _apps(path: Path, entries: str) -> Path:
    path.write_text(entries)
    return path


def _wait_final(store: FarmStore, night: str, jobs: int, log: Path) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        rows = store.runs_of(night)
        if len(rows) == jobs and all(r.status not in ("queued", "running") for r in rows):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"night {night} not done: {[r.status for r in rows]}; "
                                 f"worker log:\n{log.read_text()[-4000:]}")
        time.sleep(1)


SPECIMEN = f"- package: {facts.PACKAGE}\n  target: local\n  scenario: accept\n" \
           "  options: {settle: 1.5}\n"
BROKEN = JobSpec(package="org.example.gone", night="n1", target="local",
                 scenario="/nonexistent/s.yaml", options={"command": "true"})
"""A scenario that vanished after submit (submit itself refuses a missing one)."""


@pytest.fixture(scope="module")
def nights(farm: tuple[str, Path, int]) -> tuple[Path, FarmStore]:
    broker, runs, _ = farm
    store = FarmStore(default_url(runs))
    log = runs.parent / "worker.log"
    for night, jobs in (("n1", 2), ("n2", 1)):
        apps = _apps(runs.parent / f"apps-{night}.yaml", SPECIMEN)
        assert main(["farm", "submit", "--night", night, "--apps", str(apps),
                     "--broker", broker, "--runs", str(runs)]) == 0
        if night == "n1":
            submit(make_app(broker), store, BROKEN)
        _wait_final(store, night, jobs, log)
    return runs, store


def test_night_one_runs_are_in_the_store(nights, capsys) -> None:
    runs, store = nights
    by_package = {r.spec.package: r for r in store.runs_of("n1")}
    specimen, gone = by_package[facts.PACKAGE], by_package["org.example.gone"]
    assert specimen.status == "complete", specimen.error
    assert specimen.device == "local-1" and specimen.attempts == 1
    bundle = Path(specimen.bundle or "")
    assert bundle.parent == runs.resolve() / "n1"
    assert json.loads((bundle / "manifest.json").read_text())["status"] == "complete"
    stored = store.findings_of(specimen.job_id)
    on_disk = json.loads((bundle / "findings.json").read_text())["findings"]
    assert specimen.findings == len(stored) == len(on_disk) > 0
    assert {f["rule"] for f in stored} == {f["rule"] for f in on_disk}
    assert specimen.seconds is not None and specimen.seconds > 1
    # a scenario that cannot be loaded fails the job, with the reason, and is not retried
    assert gone.status == "failed" and gone.attempts == 1
    assert "ScenarioError" in (gone.error or "") and "/nonexistent/s.yaml" in (gone.error or "")

    assert main(["farm", "status", "--night", "n1", "--runs", str(runs), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert sorted(d["status"] for d in doc) == ["complete", "failed"]


def test_night_diff_compares_the_specimen_and_flags_the_missing_app(nights, capsys) -> None:
    runs, store = nights
    assert store.previous_night("n2") == "n1"
    code = main(["farm", "diff", "--night", "n2", "--runs", str(runs), "--json"])
    doc = json.loads(capsys.readouterr().out)
    apps = {a["package"]: a for a in doc["apps"]}
    specimen = apps[facts.PACKAGE]
    assert specimen["kind"] == "compared", specimen
    assert specimen["diff"]["same_app"] and specimen["diff"]["trustworthy"]
    # same app, same scenario, same specimen: the same findings both nights
    assert specimen["diff"]["findings"]["new"] == []
    assert specimen["diff"]["findings"]["gone"] == []
    assert doc["summary"]["unchanged"] + doc["summary"]["changed"] > 0
    assert apps["org.example.gone"]["kind"] == "missing"
    assert doc["summary"]["missing"] == ["org.example.gone"]
    assert code == doc["exit"] == 1  # a missing app must not go green

    assert main(["farm", "diff", "--night", "n2", "--runs", str(runs)]) == 1
    text = capsys.readouterr().out
    assert "MISSING org.example.gone" in text and "0 new" in text

    # the first night has nothing to compare against: a usage error, not "new findings"
    assert main(["farm", "diff", "--night", "n1", "--runs", str(runs)]) == 2


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _descendants(pid: int) -> list[int]:
    found = []
    for child in _children(pid):
        found += [child, *_descendants(child)]
    return found


def test_a_worker_child_killed_mid_session_hands_the_job_back(nights, farm) -> None:
    runs, store = nights
    broker, _, worker_pid = farm
    apps = _apps(runs.parent / "apps-n3.yaml", SPECIMEN)
    assert main(["farm", "submit", "--night", "n3", "--apps", str(apps), "--broker", broker,
                 "--runs", str(runs)]) == 0
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:  # until the session is recording
        (row,) = store.runs_of("n3")
        events = Path(row.bundle or "") / "events.jsonl"
        if row.status == "running" and events.exists() and events.stat().st_size > 0:
            break
        assert time.monotonic() < deadline, f"the job never started: {row}"
        time.sleep(0.2)
    first_bundle = Path(row.bundle or "")
    (pool_child,) = _children(worker_pid)  # concurrency 1: one child runs the session
    orphans = _descendants(pool_child)  # the specimen JVM, mitmdump: ours to clean up
    os.kill(pool_child, signal.SIGKILL)
    for pid in orphans:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _wait_final(store, "n3", 1, runs.parent / "worker.log")
    (row,) = store.runs_of("n3")
    assert (row.status, row.attempts) == ("complete", 2), row
    # the first attempt is not forgotten: its folder and what it recorded stay findable
    (earlier,) = row.history
    assert earlier["status"] == "running (worker lost mid-session)"
    assert earlier["bundle"] == str(first_bundle) != row.bundle
    assert (first_bundle / "events.jsonl").stat().st_size > 0


def test_the_worker_process_never_loads_frida_before_forking() -> None:
    # frida does not survive a fork: the prefork child would hang at its first attach
    code = ("import sys, harness.farm.worker, harness.farm.celery_app, harness.farm.runner; "
            "sys.exit('frida' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_submit_with_the_broker_down_fails_loudly_and_the_store_says_so(tmp_path: Path,
                                                                        capsys) -> None:
    apps = _apps(tmp_path / "apps.yaml", "- package: com.example.app\n")
    runs = tmp_path / "runs"
    port = _free_port()  # nothing listens there
    assert main(["farm", "submit", "--night", "n1", "--apps", str(apps), "--broker",
                 f"redis://127.0.0.1:{port}/0", "--runs", str(runs)]) == 1
    assert "is the broker running?" in capsys.readouterr().err
    (row,) = FarmStore(default_url(runs)).runs_of("n1")
    assert row.status == "failed" and (row.error or "").startswith("not queued:")


def test_a_second_worker_for_the_same_serial_is_refused(farm, tmp_path: Path) -> None:
    broker, runs, pid = farm
    # the exec'd worker: -P, and the URLs in its environment, not in `ps`
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert b"-P" in cmdline and not any(b"redis://" in a for a in cmdline)
    second = subprocess.run(
        [sys.executable, "-m", "harness.cli", "farm", "worker", "--serial", "local-1",
         "--broker", broker, "--runs", str(runs)],
        capture_output=True, text=True, timeout=60, check=False)
    assert second.returncode == 1, second.stderr[-2000:]
    assert "device local-1 already has a worker (consentry-local-1@" in second.stderr


def test_the_serial_lock_is_freed_on_exit_and_renewed(broker: str) -> None:
    app = make_app(broker)
    with SerialLock(app, "lock-test", "first", ttl=3):
        with pytest.raises(ConfigError, match="lock-test already has a worker \\(first\\)"):
            SerialLock(app, "lock-test", "second").__enter__()
        time.sleep(4.5)  # past the TTL: still held, because it was renewed
        with pytest.raises(ConfigError, match="already has a worker"):
            SerialLock(app, "lock-test", "second").__enter__()
    with SerialLock(app, "lock-test", "second"):  # released on exit
        pass
