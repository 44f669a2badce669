"""The farm store on a real PostgreSQL 15: a throwaway cluster (initdb in a temp folder,
pg_ctl on a free port, trust auth on 127.0.0.1), run as the ``postgres`` user when the tests
run as root (PostgreSQL refuses to run as root). Skipped when the server binaries are absent;
CI does not install them."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.farm.store import FarmStore
from tests.integration.test_farm import _free_port
from tests.unit.farm.test_store import (
    check_a_stale_attempt_cannot_overwrite_a_newer_one,
    check_long_values_fit,
    check_nights_in_label_order,
    check_processes_racing_on_a_new_night,
    check_redelivery_keeps_the_first_attempt,
    check_round_trip,
)

pytestmark = pytest.mark.integration

PG_BIN = Path(os.environ.get("CONSENTRY_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _as_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no 'postgres' user to run the server as")
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("running as root without runuser to drop to the 'postgres' user")
    return [runuser, "-u", "postgres", "--"]


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
        pytest.skip(f"no PostgreSQL server binaries in {PG_BIN} (set CONSENTRY_PG_BIN)")
    prefix = _as_user()
    # not under pytest's tmp folder: it is private to root, and the server runs as postgres
    root = Path(tempfile.mkdtemp(prefix="consentry-pg-"))
    data = root / "data"
    if prefix:
        shutil.chown(root, "postgres")
        root.chmod(0o700)
    port = _free_port()
    try:
        _run([*prefix, str(PG_BIN / "initdb"), "-D", str(data), "-U", "farm",
              "--auth=trust", "-E", "UTF8"])
        _run([*prefix, str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"),
              "-w", "-t", "60", "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1",
              "start"])
        yield f"postgresql://farm@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*prefix, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m",
                            "immediate", "-w", "stop"], check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{argv[-1]} failed: {done.stdout}{done.stderr}"


@pytest.fixture
def store(pg_url: str) -> Iterator[FarmStore]:
    s = FarmStore(pg_url)
    yield s
    # a clean slate per test: the cluster lives for the module
    from sqlalchemy import text

    with s._engine.begin() as conn:
        conn.execute(text("DROP TABLE findings, runs, nights"))
    s.close()


def test_round_trip_on_postgres(store: FarmStore, tmp_path: Path) -> None:
    assert store._engine.dialect.name == "postgresql"
    check_round_trip(store, tmp_path)


def test_redelivery_on_postgres(store: FarmStore, tmp_path: Path) -> None:
    check_redelivery_keeps_the_first_attempt(store, tmp_path)


def test_nights_on_postgres(store: FarmStore) -> None:
    check_nights_in_label_order(store)


def test_long_values_on_postgres(store: FarmStore, tmp_path: Path) -> None:
    check_long_values_fit(store, tmp_path)


def test_stale_attempts_on_postgres(store: FarmStore, tmp_path: Path) -> None:
    check_a_stale_attempt_cannot_overwrite_a_newer_one(store, tmp_path)


def test_racing_on_a_new_night_on_postgres(store: FarmStore, pg_url: str) -> None:
    check_processes_racing_on_a_new_night(pg_url)
