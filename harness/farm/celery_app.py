"""The Celery adapter: the farm's queues, its one task and its workers. Only module that
imports Celery.

Routing: one worker per device, consuming two queues with concurrency 1 and a prefetch of
1, so a device never runs two sessions at once and never hoards jobs:

- ``consentry.device.<serial>``  jobs for that device only (``farm submit --device``);
- ``consentry.farm``             the pool: whichever device is free next.

Losing a job: the message is acknowledged only after the session ended (``acks_late``), and
a worker child that dies mid-session (OOM, kill -9) rejects it back to the queue
(``reject_on_worker_lost``), where another worker, or this one restarted, runs it again into
a new attempt folder; the store keeps the first attempt's folder in the run's history. A
whole worker host that vanishes leaves the message unacknowledged in Redis, which hands it
out again after the broker's visibility timeout (:data:`VISIBILITY_TIMEOUT`, longer than
any session, or it would be run twice at once).

A job that kills its worker every time would loop forever that way (Celery warns about it):
the store counts the attempts whose worker was lost, and the :data:`WORKERS_LOST`-th
redelivery records "failed: worker lost N times" and acknowledges the job.

Time limits: a session gets a soft limit (worker ``--time-limit``, default
:data:`SESSION_TIME_LIMIT`; the session stops and its bundle is kept) and a hard one
:data:`HARD_LIMIT_GRACE` later, both well under the visibility timeout. An outcome is
recorded only while its attempt is the job's latest, so a stale attempt cannot overwrite a
newer one.

Retries: a device fault (adb lost, frida-server dead: :func:`~harness.farm.runner.
is_device_fault`) retries the job up to :data:`DEVICE_RETRIES` times, on the pool queue
(a job pinned with ``--device`` on its own device's queue), and the faulty device's worker
stops taking pool jobs; a probe on its own queue puts it back into the pool after
:data:`POOL_COOL_DOWN` seconds once the device answers. A store that cannot be written
retries the job (:data:`STORE_RETRIES`) rather than acknowledging it unrecorded. Nothing
else is retried: an app that crashes, a run that lost evidence or a finding is the night's
result, recorded as it is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from celery import Celery, Task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery.utils.nodenames import host_format
from kombu.utils.url import maybe_sanitize_url

from harness.errors import ConfigError
from harness.farm.runner import Outcome, device_problem, run_dir_for, run_job
from harness.farm.spec import JobSpec
from harness.farm.store import FarmStore, StoreError

log = logging.getLogger(__name__)

POOL_QUEUE = "consentry.farm"
TASK_NAME = "consentry.run_session"
PROBE_TASK = "consentry.probe_device"
DEVICE_RETRIES = 2
RETRY_DELAY = 10
"""Seconds before a device-fault retry is handed out again."""
VISIBILITY_TIMEOUT = 6 * 3600
"""Redis hands an unacknowledged job to another worker after this long (seconds)."""
SESSION_TIME_LIMIT = 2 * 3600
"""Default soft time limit of one session (seconds); ``--time-limit`` on the worker."""
HARD_LIMIT_GRACE = 300
"""Seconds after the soft limit before the session's process is killed."""
WORKERS_LOST = 3
"""A job whose worker died this many times is recorded as failed instead of requeued:
``reject_on_worker_lost`` alone would hand a job that kills its worker out forever."""
STORE_RETRIES, STORE_RETRY_DELAY = 20, 30
"""A store that cannot be written (server down) retries the job for ~10 minutes."""
POOL_COOL_DOWN = 300
"""Seconds a device that faulted stays out of the pool before its health is probed."""

_stores: dict[str, FarmStore] = {}


def shown_broker(url: str) -> str:
    """The broker URL with its password masked, for banners and errors."""
    return str(maybe_sanitize_url(url))


def device_queue(serial: str) -> str:
    return f"consentry.device.{serial}"


def node_name(serial: str) -> str:
    """Celery node name for the worker of ``serial`` (``host:port`` serials included)."""
    return "consentry-" + re.sub(r"[^A-Za-z0-9_.-]", "-", serial) + "@%h"


def make_app(broker: str, *, db: str | None = None, runs: Path | None = None,
             serial: str | None = None, time_limit: float = SESSION_TIME_LIMIT) -> Celery:
    """A Celery app on ``broker``; ``db``, ``runs``, ``serial`` and ``time_limit`` (soft,
    seconds, per session) are the worker's own."""
    if not broker or "://" not in broker:
        raise ConfigError(f"broker {shown_broker(broker)!r}: expected a URL such as "
                          "redis://HOST:6379/0 "
                          "(--broker or CONSENTRY_BROKER)")
    if not 0 < time_limit + HARD_LIMIT_GRACE < VISIBILITY_TIMEOUT:
        # past the visibility timeout Redis hands the running job to a second worker
        raise ConfigError(f"--time-limit {time_limit:g}: must be above 0 and below "
                          f"{VISIBILITY_TIMEOUT - HARD_LIMIT_GRACE} s (the broker's "
                          "visibility timeout, less the hard limit's grace)")
    app = Celery("consentry", broker=broker, set_as_current=False)
    app.conf.update(
        task_serializer="json", accept_content=["json"], result_serializer="json",
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_soft_time_limit=time_limit,
        task_time_limit=time_limit + HARD_LIMIT_GRACE,
        worker_prefetch_multiplier=1,
        worker_concurrency=1,
        task_ignore_result=True,  # results live in the farm store, not in a result backend
        task_default_queue=POOL_QUEUE,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        consentry_db=db, consentry_runs=str(runs) if runs else None, consentry_serial=serial,
    )
    app.task(name=TASK_NAME, bind=True, max_retries=DEVICE_RETRIES,
             on_failure=_on_failure)(run_session)
    app.task(name=PROBE_TASK, bind=True)(probe_device)
    return app


def _store(url: str) -> FarmStore:
    # one engine per worker process (created after the fork, never shared across it)
    if url not in _stores:
        _stores[url] = FarmStore(url)
    return _stores[url]


def _on_failure(task: Task[Any, Any], exc: Exception, task_id: str, args: Any, kwargs: Any,
                einfo: Any) -> None:
    """The hard time limit kills the session's process and calls this in the worker's main
    process: say so in the store, or it would read "running" forever."""
    if not isinstance(exc, TimeLimitExceeded) or task.app.conf.consentry_db is None:
        return
    store = FarmStore(str(task.app.conf.consentry_db))  # not cached: the pool forks later
    try:
        store.mark_failed(task_id, f"killed: the session outlived its hard time limit "
                          f"({task.app.conf.task_time_limit:g} s)")
    except StoreError as err:
        log.error("farm: job %s: cannot record its hard time limit: %s", task_id, err)
    finally:
        store.close()


def run_session(task: Task[Any, Any], spec_json: dict[str, Any],
                device: str | None = None) -> str:
    """The task: run one job on this worker's device and record it; returns the status.
    ``device``: the job was queued for that device only (its retries stay there)."""
    try:
        return _run_session(task, spec_json, device)
    except StoreError as exc:
        # the store could not be written: retry the job rather than acknowledge it unrecorded
        log.error("farm: job %s: %s; retrying in %d s", task.request.id, exc,
                  STORE_RETRY_DELAY)
        raise task.retry(exc=exc, countdown=STORE_RETRY_DELAY,
                         max_retries=task.request.retries + STORE_RETRIES) from exc


def _record(store: FarmStore, job_id: str, outcome: Outcome, attempt: int) -> None:
    if not store.record_outcome(job_id, outcome, attempt):
        log.warning("farm: job %s attempt %d: a newer attempt exists; its outcome (%s) is "
                    "not recorded over it", job_id, attempt, outcome.status)


def _run_session(task: Task[Any, Any], spec_json: dict[str, Any], device: str | None) -> str:
    conf = task.app.conf
    spec = JobSpec.from_json(spec_json)
    serial, runs = str(conf.consentry_serial), Path(str(conf.consentry_runs))
    job_id = str(task.request.id)
    store = _store(str(conf.consentry_db))
    attempt = store.record_started(job_id, spec, serial,
                                   lambda n: run_dir_for(runs, spec, f"{job_id[:8]}-{n}"))
    out = run_dir_for(runs, spec, f"{job_id[:8]}-{attempt}")
    lost = store.workers_lost(job_id)
    if lost >= WORKERS_LOST:
        now = time.time()
        _record(store, job_id, Outcome(
            status="failed", bundle=None, started=now, finished=now,
            error=f"failed: worker lost {lost} times (a session that kills its worker is "
            "not requeued again; see the attempts' folders)"), attempt)
        log.error("farm: job %s: worker lost %d times: recorded as failed", job_id, lost)
        return "failed"  # acknowledged: the job leaves the queue
    log.info("farm: job %s attempt %d: %s %s on %s -> %s", job_id, attempt, spec.package,
             spec.scenario, serial, out)
    started = time.time()
    try:
        outcome = run_job(spec, serial, out)
    except SoftTimeLimitExceeded:
        _record(store, job_id, Outcome(
            status="failed", bundle=out if out.exists() else None, started=started,
            finished=time.time(), error=f"stopped: the session outlived its time limit "
            f"({conf.task_soft_time_limit:g} s, worker --time-limit)"), attempt)
        return "failed"
    except Exception as exc:
        # a harness bug, not a verdict on the app: the store must not say "running" forever
        _record(store, job_id, Outcome(
            status="failed", bundle=out if out.exists() else None, started=started,
            finished=time.time(), error=f"harness error: {type(exc).__name__}: {exc}"),
            attempt)
        raise
    retry = outcome.device_fault and task.request.retries < DEVICE_RETRIES
    if retry:
        where = f"again on {device}" if device else "on another device"
        outcome = replace(outcome, error=f"{outcome.error} (device fault on {serial}: "
                          f"retried {where})")
    _record(store, job_id, outcome, attempt)
    log.info("farm: job %s: %s%s", job_id, outcome.status,
             f" ({outcome.error})" if outcome.error else "")
    if outcome.device_fault:
        _leave_pool(task, spec.target)
    if retry:
        # a pinned job stays on its device's queue; a pool job goes to whichever is free
        queue = device_queue(device) if device else POOL_QUEUE
        raise task.retry(queue=queue, countdown=RETRY_DELAY)
    return outcome.status


def _leave_pool(task: Task[Any, Any], target: str) -> None:
    """This device looks broken: stop taking pool jobs until a probe finds it healthy."""
    hostname = str(task.request.hostname)
    task.app.control.cancel_consumer(POOL_QUEUE, destination=[hostname])
    task.app.send_task(PROBE_TASK, args=[hostname, target],
                       queue=device_queue(str(task.app.conf.consentry_serial)),
                       countdown=POOL_COOL_DOWN)


def probe_device(task: Task[Any, Any], hostname: str, target: str) -> str:
    """Runs on the faulty device's own queue after a cool-down: back into the pool when the
    device answers, else probe again later."""
    serial = str(task.app.conf.consentry_serial)
    problem = device_problem(serial, target)
    if problem is None:
        task.app.control.add_consumer(POOL_QUEUE, destination=[hostname])
        log.info("farm: device %s is healthy again: back in the pool", serial)
        return "healthy"
    log.warning("farm: device %s still unusable (%s): out of the pool for %d s more",
                serial, problem, POOL_COOL_DOWN)
    task.app.send_task(PROBE_TASK, args=[hostname, target], queue=device_queue(serial),
                       countdown=POOL_COOL_DOWN)
    return "unhealthy"


def submit(app: Celery, store: FarmStore, spec: JobSpec, device: str | None = None) -> str:
    """Queue ``spec`` (for ``device``, or the pool); the store knows it before any worker."""
    job_id = str(uuid.uuid4())
    store.record_queued(job_id, spec)
    queue = device_queue(device) if device else POOL_QUEUE
    try:
        app.send_task(TASK_NAME, args=[spec.to_json()], kwargs={"device": device},
                      task_id=job_id, queue=queue)
    except Exception as exc:  # kombu/redis errors vary by transport; the job must not vanish
        store.mark_failed(job_id, f"not queued: {type(exc).__name__}: {exc}")
        raise ConfigError(f"cannot queue jobs on {shown_broker(str(app.conf.broker_url))}: "
                          f"{exc}; is the broker running?") from exc
    return job_id


def worker_queues(serial: str) -> list[str]:
    return [device_queue(serial), POOL_QUEUE]


def start_worker(app: Celery, serial: str, *, loglevel: str = "INFO") -> int:
    """Run a worker for ``serial`` in this process until it is stopped; its exit code."""
    import sys

    if "frida" in sys.modules:
        raise ConfigError("frida is already loaded in this process, and the worker's forked "
                          "child would hang at its first call; start the worker with "
                          "`python -m harness.farm.worker` or `consentry farm worker`")
    hostname = host_format(node_name(serial))
    with SerialLock(app, serial, f"{hostname} pid {os.getpid()}"):
        worker = app.Worker(hostname=hostname, queues=worker_queues(serial), concurrency=1,
                            pool="prefork", prefetch_multiplier=1, loglevel=loglevel,
                            without_gossip=True, without_mingle=True)
        worker.start()
    return int(worker.exitcode or 0)


LOCK_TTL = 60
"""Seconds a worker's claim on its serial outlives the worker (renewed every third)."""
_RENEW = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
          "return redis.call('expire', KEYS[1], ARGV[2]) else return 0 end")
_RELEASE = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
            "return redis.call('del', KEYS[1]) else return 0 end")


class SerialLock:
    """One worker per serial: two would run two sessions on one device at once. A key in
    the broker's Redis (``SET NX EX``, renewed while the worker lives) rather than a lock
    file: the workers that could collide are exactly those sharing the broker, on any host
    (network serials such as ``host:5555`` reach one device from many machines), and a
    worker that dies frees the serial after :data:`LOCK_TTL` seconds. A broker without Redis
    (``memory://`` in tests) has nothing to share: no lock."""

    def __init__(self, app: Celery, serial: str, owner: str, ttl: int = LOCK_TTL) -> None:
        self.key, self.owner, self.ttl = f"consentry.worker-lock.{serial}", owner, ttl
        self.serial, self.app = serial, app
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: Any = None
        self._conn: Any = None

    def __enter__(self) -> SerialLock:
        self._conn = self.app.connection_for_write()  # held while the worker lives
        client = getattr(self._conn.default_channel, "client", None)
        if client is None or not hasattr(client, "eval"):
            log.warning("farm: broker %s is not Redis: no guard against a second worker for "
                        "%s", self._conn.as_uri(), self.serial)  # as_uri masks the password
            return self
        self._client = client
        if not client.set(self.key, self.owner, nx=True, ex=self.ttl):
            holder = client.get(self.key)
            holder = holder.decode() if isinstance(holder, bytes) else holder
            self._conn.release()
            raise ConfigError(f"device {self.serial} already has a worker ({holder}): two "
                              "would run two sessions on it at once; stop that one first (a "
                              f"worker that died frees it within {self.ttl} s)")
        self._thread = threading.Thread(target=self._renew, name="serial-lock", daemon=True)
        self._thread.start()
        return self

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                held = self._client.eval(_RENEW, 1, self.key, self.owner, self.ttl)
            except Exception as exc:  # redis errors vary; the next round tries again
                log.error("farm: cannot renew the lock on %s: %s", self.serial, exc)
                continue
            if not held:
                log.error("farm: the lock on %s was lost (the broker restarted or expired "
                          "it): another worker may take this device", self.serial)
                self._client.set(self.key, self.owner, nx=True, ex=self.ttl)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._client is not None:
            with contextlib.suppress(Exception):  # expires on its own anyway
                self._client.eval(_RELEASE, 1, self.key, self.owner)
        if self._conn is not None:
            self._conn.release()
