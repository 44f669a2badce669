"""The farm's result store: nights, runs and their findings, in SQL (SQLAlchemy Core).

SQLAlchemy Core rather than sqlite3 + psycopg by hand: one set of statements serves the
embedded SQLite default (``sqlite:///<runs>/farm.db``) and PostgreSQL
(``postgresql://…``, through psycopg 3), with the dialect differences (autoincrement,
upsert-free updates, timestamps as floats) left to the library. Only this module imports it.

Tables::

    nights   name PK, created (first submit)
    runs     job_id PK, night, package, scenario, target, spec (JSON), device, status
             (queued/running/complete/degraded/incomplete/failed), error, bundle, attempts,
             history (JSON: earlier attempts and their folders),
             queued / started / finished (Unix times)
    findings id PK, job_id, rule, severity, sdk, summary

Nights are ordered by their label compared as a string (:func:`night_order`), not by when
they were submitted: ISO dates (``2026-11-29``) then sort by date, and a night re-run or
back-filled later still sits between its neighbours.

Free-form values (package, scenario path, device serial, rule, SDK) are ``Text``: a VARCHAR
limit is enforced by PostgreSQL only, so it would fail there alone, mid-night.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from harness.errors import ConfigError, HarnessError
from harness.farm.runner import Outcome
from harness.farm.spec import JobSpec

WORKER_LOST = "running (worker lost mid-session)"
"""History status of an attempt whose worker died before it recorded an outcome."""
STATUSES = ("queued", "running", "complete", "degraded", "incomplete", "failed")
FINAL = ("complete", "degraded", "incomplete", "failed")

_meta = sa.MetaData()
nights = sa.Table(
    "nights", _meta,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("created", sa.Float, nullable=False),
)
runs = sa.Table(
    "runs", _meta,
    sa.Column("job_id", sa.String(64), primary_key=True),
    sa.Column("night", sa.String(64), sa.ForeignKey("nights.name"), nullable=False,
              index=True),
    sa.Column("package", sa.Text, nullable=False),
    sa.Column("scenario", sa.Text, nullable=False),
    sa.Column("target", sa.String(16), nullable=False),
    sa.Column("spec", sa.Text, nullable=False),
    sa.Column("device", sa.Text),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("bundle", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("history", sa.Text, nullable=False, default="[]"),
    sa.Column("queued", sa.Float),
    sa.Column("started", sa.Float),
    sa.Column("finished", sa.Float),
)
findings = sa.Table(
    "findings", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(64), sa.ForeignKey("runs.job_id"), nullable=False,
              index=True),
    sa.Column("rule", sa.Text, nullable=False),
    sa.Column("severity", sa.Text),
    sa.Column("sdk", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
)


class StoreError(HarnessError):
    """A read or write of the store failed (server down, lock timeout): worth a retry."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRow:
    job_id: str
    night: str
    spec: JobSpec
    device: str | None
    status: str
    error: str | None
    bundle: str | None
    attempts: int
    history: list[dict[str, Any]]
    """Earlier attempts: attempt, device, status, error, bundle."""
    queued: float | None
    started: float | None
    finished: float | None
    findings: int

    @property
    def seconds(self) -> float | None:
        if self.started is None or self.finished is None:
            return None
        return self.finished - self.started


def night_order(names: Iterable[str]) -> list[str]:
    """Nights oldest first: labels compared as plain strings (Python's ``<``, not the
    database's collation), so ISO dates sort by date and ``2026-11-29.rerun`` follows
    ``2026-11-29``. Labels that are not dates sort as text: name nights so they do."""
    return sorted(names)


def default_url(runs_dir: Path) -> str:
    return f"sqlite:///{runs_dir / 'farm.db'}"


def shown_url(url: str) -> str:
    """``url`` with its password masked, for banners and errors."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url if "@" not in url else "<unparsable URL with credentials>"


def _engine_url(url: str) -> str:
    # psycopg 3 is the driver we depend on; SQLAlchemy's bare postgresql:// means psycopg2
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class FarmStore:
    """Open (and create if needed) the store at ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url
        shown = self.shown = shown_url(url)
        try:
            # pre-ping: a PostgreSQL server restarted overnight leaves dead pooled connections
            self._engine = sa.create_engine(_engine_url(url), pool_pre_ping=True)
        except (sa.exc.ArgumentError, ModuleNotFoundError) as exc:
            raise ConfigError(f"--db {shown}: not a usable database URL ({exc}); use "
                              "sqlite:///PATH or postgresql://USER@HOST/DB") from None
        try:
            if url.startswith("sqlite:///"):
                Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            _meta.create_all(self._engine)
        except OSError as exc:
            raise ConfigError(f"--db {shown}: cannot create its folder ({exc})") from None
        except sa.exc.SQLAlchemyError as exc:
            reason = getattr(exc, "orig", None) or exc
            raise ConfigError(f"--db {shown}: cannot open the database ({reason})") from None

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            # callers outside this module cannot catch SQLAlchemy's errors by name
            raise StoreError(f"result store {self.shown}: {getattr(exc, 'orig', None) or exc}") \
                from exc

    # -- writing ---------------------------------------------------------------------------

    def _ensure_night(self, conn: Connection, night: str) -> None:
        # one statement, not SELECT then INSERT: workers and submits race on a new night
        insert = (sqlite_insert if conn.dialect.name == "sqlite" else pg_insert)(nights)
        conn.execute(insert.values(name=night, created=time.time())
                     .on_conflict_do_nothing(index_elements=["name"]))

    def record_queued(self, job_id: str, spec: JobSpec) -> None:
        with self._tx() as conn:
            self._ensure_night(conn, spec.night)
            conn.execute(runs.insert().values(
                job_id=job_id, night=spec.night, package=spec.package, scenario=spec.scenario,
                target=spec.target, spec=json.dumps(spec.to_json(), sort_keys=True),
                status="queued", attempts=0, history="[]", queued=time.time()))

    def record_started(self, job_id: str, spec: JobSpec, device: str,
                       bundle_for: Callable[[int], Path]) -> int:
        """A worker took the job (again, after a redelivery or a retry); the attempt number.

        The attempt before, if any, goes to ``history`` with its folder: a worker that died
        mid-session left evidence there, and it must stay findable."""
        with self._tx() as conn:
            self._ensure_night(conn, spec.night)
            row = conn.execute(sa.select(runs).where(runs.c.job_id == job_id)).first()
            attempt = (row.attempts if row is not None else 0) + 1
            values: dict[str, Any] = dict(device=device, status="running", error=None,
                                          bundle=str(bundle_for(attempt)),
                                          started=time.time(), finished=None,
                                          attempts=attempt)
            if row is None:  # queued without this store: the worker is the first to see it
                conn.execute(runs.insert().values(
                    job_id=job_id, night=spec.night, package=spec.package,
                    scenario=spec.scenario, target=spec.target, history="[]",
                    spec=json.dumps(spec.to_json(), sort_keys=True), **values))
            else:
                history = json.loads(row.history or "[]")
                if row.attempts:
                    status = WORKER_LOST if row.status == "running" else row.status
                    history.append({"attempt": row.attempts, "device": row.device,
                                    "status": status, "error": row.error,
                                    "bundle": row.bundle})
                conn.execute(runs.update().where(runs.c.job_id == job_id)
                             .values(history=json.dumps(history), **values))
            conn.execute(findings.delete().where(findings.c.job_id == job_id))
        return attempt

    def mark_failed(self, job_id: str, error: str) -> None:
        with self._tx() as conn:
            conn.execute(runs.update().where(runs.c.job_id == job_id)
                         .values(status="failed", error=error, finished=time.time()))

    def workers_lost(self, job_id: str) -> int:
        """How many earlier attempts of ``job_id`` ended with their worker lost."""
        with self._tx() as conn:
            row = conn.execute(sa.select(runs.c.history).where(runs.c.job_id == job_id)).first()
        history = json.loads(row.history or "[]") if row is not None else []
        return sum(1 for h in history if h.get("status") == WORKER_LOST)

    def record_outcome(self, job_id: str, outcome: Outcome, attempt: int | None = None) -> bool:
        """Record ``outcome``; with ``attempt``, only while that attempt is the latest (a
        stale redelivered attempt must not overwrite a newer one). Whether it was recorded."""
        with self._tx() as conn:
            update = runs.update().where(runs.c.job_id == job_id)
            if attempt is not None:
                update = update.where(runs.c.attempts == attempt)
            done = conn.execute(update.values(
                status=outcome.status, error=outcome.error,
                bundle=str(outcome.bundle) if outcome.bundle else None,
                started=outcome.started, finished=outcome.finished))
            if done.rowcount == 0:
                return False
            conn.execute(findings.delete().where(findings.c.job_id == job_id))
            if outcome.findings:
                conn.execute(findings.insert(), [
                    dict(job_id=job_id, rule=f.rule, severity=f.severity, sdk=f.sdk,
                         summary=f.summary) for f in outcome.findings])
        return True

    # -- reading ---------------------------------------------------------------------------

    def night_names(self) -> list[str]:
        """Every night, oldest first (:func:`night_order`)."""
        with self._tx() as conn:
            return night_order(r.name for r in conn.execute(sa.select(nights.c.name)))

    def earlier_nights(self, night: str) -> list[str]:
        """The nights before ``night`` (:func:`night_order`), newest first."""
        return [n for n in reversed(self.night_names()) if n < night]

    def previous_night(self, night: str) -> str | None:
        if night not in self.night_names():
            return None
        return next(iter(self.earlier_nights(night)), None)

    def runs_of(self, night: str) -> list[RunRow]:
        count = (sa.select(sa.func.count()).where(findings.c.job_id == runs.c.job_id)
                 .scalar_subquery())
        query = (sa.select(runs, count.label("n_findings")).where(runs.c.night == night)
                 .order_by(runs.c.package, runs.c.scenario, runs.c.target, runs.c.queued,
                           runs.c.started))
        with self._tx() as conn:
            return [RunRow(job_id=r.job_id, night=r.night,
                           spec=JobSpec.from_json(json.loads(r.spec)), device=r.device,
                           status=r.status, error=r.error, bundle=r.bundle,
                           attempts=r.attempts, history=json.loads(r.history or "[]"),
                           queued=r.queued, started=r.started, finished=r.finished,
                           findings=r.n_findings)
                    for r in conn.execute(query)]

    def findings_of(self, job_id: str) -> list[dict[str, Any]]:
        with self._tx() as conn:
            rows = conn.execute(sa.select(findings).where(findings.c.job_id == job_id)
                                .order_by(findings.c.id))
            return [dict(rule=r.rule, severity=r.severity, sdk=r.sdk, summary=r.summary)
                    for r in rows]
