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

Retries: a device fault (adb lost, frida-server dead: :func:`~harness.farm.runner.
is_device_fault`) retries the job up to :data:`DEVICE_RETRIES` times on the pool queue,
and the faulty device's worker stops taking pool jobs, so the retry lands on another device.
Nothing else is retried: an app that crashes, a run that lost evidence or a finding is the
night's result, recorded as it is.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from celery import Celery, Task
from celery.utils.nodenames import host_format

from harness.errors import ConfigError
from harness.farm.runner import Outcome, run_dir_for, run_job
from harness.farm.spec import JobSpec
from harness.farm.store import FarmStore

log = logging.getLogger(__name__)

POOL_QUEUE = "consentry.farm"
TASK_NAME = "consentry.run_session"
DEVICE_RETRIES = 2
RETRY_DELAY = 10
"""Seconds before a device-fault retry is handed out again."""
VISIBILITY_TIMEOUT = 6 * 3600
"""Redis hands an unacknowledged job to another worker after this long (seconds)."""

_stores: dict[str, FarmStore] = {}


def device_queue(serial: str) -> str:
    return f"consentry.device.{serial}"


def node_name(serial: str) -> str:
    """Celery node name for the worker of ``serial`` (``host:port`` serials included)."""
    return "consentry-" + re.sub(r"[^A-Za-z0-9_.-]", "-", serial) + "@%h"


def make_app(broker: str, *, db: str | None = None, runs: Path | None = None,
             serial: str | None = None) -> Celery:
    """A Celery app on ``broker``; ``db``, ``runs`` and ``serial`` are the worker's own."""
    if not broker or "://" not in broker:
        raise ConfigError(f"broker {broker!r}: expected a URL such as redis://HOST:6379/0 "
                          "(--broker or CONSENTRY_BROKER)")
    app = Celery("consentry", broker=broker, set_as_current=False)
    app.conf.update(
        task_serializer="json", accept_content=["json"], result_serializer="json",
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_concurrency=1,
        task_ignore_result=True,  # results live in the farm store, not in a result backend
        task_default_queue=POOL_QUEUE,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        consentry_db=db, consentry_runs=str(runs) if runs else None, consentry_serial=serial,
    )
    app.task(name=TASK_NAME, bind=True, max_retries=DEVICE_RETRIES)(run_session)
    return app


def _store(url: str) -> FarmStore:
    # one engine per worker process (created after the fork, never shared across it)
    if url not in _stores:
        _stores[url] = FarmStore(url)
    return _stores[url]


def run_session(task: Task[Any, Any], spec_json: dict[str, Any]) -> str:
    """The task: run one job on this worker's device and record it; returns the status."""
    conf = task.app.conf
    spec = JobSpec.from_json(spec_json)
    serial, runs = str(conf.consentry_serial), Path(str(conf.consentry_runs))
    job_id = str(task.request.id)
    store = _store(str(conf.consentry_db))
    attempt = store.record_started(job_id, spec, serial,
                                   lambda n: run_dir_for(runs, spec, f"{job_id[:8]}-{n}"))
    out = run_dir_for(runs, spec, f"{job_id[:8]}-{attempt}")
    log.info("farm: job %s attempt %d: %s %s on %s -> %s", job_id, attempt, spec.package,
             spec.scenario, serial, out)
    started = time.time()
    try:
        outcome = run_job(spec, serial, out)
    except Exception as exc:
        # a harness bug, not a verdict on the app: the store must not say "running" forever
        store.record_outcome(job_id, Outcome(
            status="failed", bundle=out if out.exists() else None, started=started,
            finished=time.time(), error=f"harness error: {type(exc).__name__}: {exc}"))
        raise
    retry = outcome.device_fault and task.request.retries < DEVICE_RETRIES
    if retry:
        outcome = replace(outcome, error=f"{outcome.error} (device fault on {serial}: "
                          "retried on another device)")
    store.record_outcome(job_id, outcome)
    log.info("farm: job %s: %s%s", job_id, outcome.status,
             f" ({outcome.error})" if outcome.error else "")
    if retry:
        # this device looks broken: stop taking pool jobs, so the retry goes elsewhere
        task.app.control.cancel_consumer(POOL_QUEUE, destination=[str(task.request.hostname)])
        raise task.retry(queue=POOL_QUEUE, countdown=RETRY_DELAY)
    return outcome.status


def submit(app: Celery, store: FarmStore, spec: JobSpec, device: str | None = None) -> str:
    """Queue ``spec`` (for ``device``, or the pool); the store knows it before any worker."""
    job_id = str(uuid.uuid4())
    store.record_queued(job_id, spec)
    queue = device_queue(device) if device else POOL_QUEUE
    try:
        app.send_task(TASK_NAME, args=[spec.to_json()], task_id=job_id, queue=queue)
    except Exception as exc:  # kombu/redis errors vary by transport; the job must not vanish
        store.mark_failed(job_id, f"not queued: {type(exc).__name__}: {exc}")
        raise ConfigError(f"cannot queue jobs on {app.conf.broker_url}: {exc}; is the broker "
                          "running?") from exc
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
    worker = app.Worker(hostname=host_format(node_name(serial)), queues=worker_queues(serial),
                        concurrency=1, pool="prefork", prefetch_multiplier=1,
                        loglevel=loglevel, without_gossip=True, without_mingle=True)
    worker.start()
    return int(worker.exitcode or 0)
