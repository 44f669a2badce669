"""The farm's result store: nights, runs and their findings, in SQL (SQLAlchemy Core).

SQLAlchemy Core rather than sqlite3 + psycopg by hand: one set of statements serves the
embedded SQLite default (``sqlite:///<runs>/farm.db``) and PostgreSQL
(``postgresql://…``, through psycopg 3), with the dialect differences (autoincrement,
upsert-free updates, timestamps as floats) left to the library. Only this module imports it.

Tables::

    nights   name PK, created (first submit, orders the nights)
    runs     job_id PK, night, package, scenario, target, spec (JSON), device, status
             (queued/running/complete/degraded/incomplete/failed), error, bundle, attempts,
             history (JSON: earlier attempts and their folders),
             queued / started / finished (Unix times)
    findings id PK, job_id, rule, severity, sdk, summary
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from harness.errors import ConfigError
from harness.farm.runner import Outcome
from harness.farm.spec import JobSpec

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
    sa.Column("package", sa.String(255), nullable=False),
    sa.Column("scenario", sa.String(255), nullable=False),
    sa.Column("target", sa.String(16), nullable=False),
    sa.Column("spec", sa.Text, nullable=False),
    sa.Column("device", sa.String(255)),
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
    sa.Column("rule", sa.String(128), nullable=False),
    sa.Column("severity", sa.String(32)),
    sa.Column("sdk", sa.String(255), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
)


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


def default_url(runs_dir: Path) -> str:
    return f"sqlite:///{runs_dir / 'farm.db'}"


def _engine_url(url: str) -> str:
    # psycopg 3 is the driver we depend on; SQLAlchemy's bare postgresql:// means psycopg2
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class FarmStore:
    """Open (and create if needed) the store at ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self._engine = sa.create_engine(_engine_url(url))
        except (sa.exc.ArgumentError, ModuleNotFoundError) as exc:
            raise ConfigError(f"--db {url}: not a usable database URL ({exc}); use "
                              "sqlite:///PATH or postgresql://USER@HOST/DB") from None
        try:
            if url.startswith("sqlite:///"):
                Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            _meta.create_all(self._engine)
        except OSError as exc:
            raise ConfigError(f"--db {url}: cannot create its folder ({exc})") from None
        except sa.exc.SQLAlchemyError as exc:
            reason = getattr(exc, "orig", None) or exc
            raise ConfigError(f"--db {url}: cannot open the database ({reason})") from None

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self._engine.begin() as conn:
            yield conn

    # -- writing ---------------------------------------------------------------------------

    def _ensure_night(self, conn: Connection, night: str) -> None:
        if conn.execute(sa.select(nights.c.name).where(nights.c.name == night)).first() is None:
            conn.execute(nights.insert().values(name=night, created=time.time()))

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
                    lost = " (worker lost mid-session)" if row.status == "running" else ""
                    history.append({"attempt": row.attempts, "device": row.device,
                                    "status": row.status + lost, "error": row.error,
                                    "bundle": row.bundle})
                conn.execute(runs.update().where(runs.c.job_id == job_id)
                             .values(history=json.dumps(history), **values))
            conn.execute(findings.delete().where(findings.c.job_id == job_id))
        return attempt

    def mark_failed(self, job_id: str, error: str) -> None:
        with self._tx() as conn:
            conn.execute(runs.update().where(runs.c.job_id == job_id)
                         .values(status="failed", error=error, finished=time.time()))

    def record_outcome(self, job_id: str, outcome: Outcome) -> None:
        with self._tx() as conn:
            conn.execute(runs.update().where(runs.c.job_id == job_id).values(
                status=outcome.status, error=outcome.error,
                bundle=str(outcome.bundle) if outcome.bundle else None,
                started=outcome.started, finished=outcome.finished))
            conn.execute(findings.delete().where(findings.c.job_id == job_id))
            if outcome.findings:
                conn.execute(findings.insert(), [
                    dict(job_id=job_id, rule=f.rule, severity=f.severity, sdk=f.sdk,
                         summary=f.summary) for f in outcome.findings])

    # -- reading ---------------------------------------------------------------------------

    def night_names(self) -> list[str]:
        """Every night, oldest first (by first submit)."""
        with self._tx() as conn:
            rows = conn.execute(sa.select(nights.c.name).order_by(nights.c.created,
                                                                  nights.c.name))
            return [r.name for r in rows]

    def previous_night(self, night: str) -> str | None:
        names = self.night_names()
        if night not in names:
            return None
        index = names.index(night)
        return names[index - 1] if index > 0 else None

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
