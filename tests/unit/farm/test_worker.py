"""The exec'd worker's command line and the URLs shown to people: no password in argv
(readable by any local user in ``ps``), in banners or in errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.farm.celery_app import make_app, shown_broker, submit
from harness.farm.spec import JobSpec
from harness.farm.store import FarmStore, shown_url
from harness.farm.worker import BROKER_ENV, DB_ENV, argv_for, env_for, main

BROKER = "redis://:s3cret@broker.lab:6379/0"
DB = "postgresql://farm:s3cret@db.lab/farm"


def test_urls_travel_in_the_environment_not_argv() -> None:
    argv = argv_for("emulator-5554", Path("/runs"), "INFO", 600.0)
    assert argv[:4] == [sys.executable, "-P", "-m", "harness.farm.worker"]
    assert not any("s3cret" in a or "://" in a for a in argv)
    env = env_for(BROKER, DB)
    assert (env[BROKER_ENV], env[DB_ENV]) == (BROKER, DB)


def test_the_worker_without_its_urls_says_so(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(BROKER_ENV, raising=False)
    monkeypatch.delenv(DB_ENV, raising=False)
    assert main(["--serial", "x", "--runs", "/tmp/r", "--time-limit", "60"]) == 2
    assert f"{BROKER_ENV} and {DB_ENV} must be set" in capsys.readouterr().err


def test_passwords_are_masked() -> None:
    assert shown_url(DB) == "postgresql://farm:***@db.lab/farm"
    assert shown_url("sqlite:////runs/farm.db") == "sqlite:////runs/farm.db"
    assert "s3cret" not in shown_broker(BROKER) and "broker.lab:6379" in shown_broker(BROKER)
    with pytest.raises(ConfigError) as info:
        FarmStore("postgresql://farm:s3cret@127.0.0.1:1/farm")  # nothing listens on port 1
    assert "s3cret" not in str(info.value) and "farm:***@127.0.0.1:1" in str(info.value)


def test_a_broker_error_hides_the_password(tmp_path: Path) -> None:
    store = FarmStore(f"sqlite:///{tmp_path}/farm.db")
    app = make_app("redis://:s3cret@127.0.0.1:1/0")
    app.conf.broker_connection_timeout = 1
    app.conf.broker_transport_options = {"max_retries": 0}
    with pytest.raises(ConfigError) as info:
        submit(app, store, JobSpec(package="com.example.app", night="n1"))
    assert "is the broker running?" in str(info.value) and "s3cret" not in str(info.value)
