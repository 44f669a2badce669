"""When Frida drops the app's session while it runs, the instrumenter re-attaches; when that
fails the detach stands, loudly. Glue only: a stand-in for the Frida session (the real
re-attach runs in tests/integration/test_children.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import frida
import pytest

from harness.errors import InstrumentationError
from harness.instrument import frida_adapter
from harness.instrument.agent_build import AgentBundle
from harness.instrument.catalogue import Catalogue
from harness.instrument.instrumenter import Instrumenter
from harness.recorder import Recorder
from harness.targets.base import FridaDeviceRef, SpawnedApp


class FakeSession:
    """Attaches, or fails at the step named in ``fail_at``."""

    fail_at: str | None = None
    made: list[FakeSession] = []

    def __init__(self, ref: FridaDeviceRef, pid: int) -> None:
        if FakeSession.fail_at == "attach" and FakeSession.made:  # the re-attach's attach
            raise InstrumentationError(f"attaching to pid {pid}: the process is gone")
        self.pid = pid
        self.detached = False
        FakeSession.made.append(self)

    def load(self, *args: Any, **kwargs: Any) -> None:
        pass

    def enable_child_gating(self) -> None:
        pass

    def call(self, method: str, *args: Any) -> Any:
        if FakeSession.fail_at == "init":
            raise InstrumentationError("agent rpc init failed: boom")
        return {"installed": ["a", "b"]}

    def detach(self) -> None:
        self.detached = True


@pytest.fixture
def fake_sessions(monkeypatch: pytest.MonkeyPatch) -> type[FakeSession]:
    FakeSession.fail_at, FakeSession.made = None, []
    monkeypatch.setattr(frida_adapter, "AgentSession", FakeSession)
    return FakeSession


def dropped(tmp_path: Path, *, reattach: bool = True, reason: str = "application-requested",
            child: bool = False) -> tuple[Instrumenter, list[dict[str, Any]]]:
    """An instrumenter whose app session Frida just dropped; its events once settled."""
    recorder = Recorder(tmp_path / "run")
    bundle = AgentBundle("", "0" * 64, tmp_path / "agent.js", "7.0.13", True)
    instr = Instrumenter(recorder, Catalogue(()), bundle, FridaDeviceRef(kind="local"),
                         follow_children=True, reattach=reattach)
    old: Any = FakeSession(FridaDeviceRef(kind="local"), 42)
    instr._spawned = SpawnedApp(pid=42, process="app")
    instr._session = old
    if child:
        instr._on_child_detached(43, "app:child", reason)
    else:
        instr._on_detached(old, reason)
    for thread in instr._child_threads:
        thread.join(10)
    recorder.close()
    lines = (tmp_path / "run" / "events.jsonl").read_text().splitlines()
    return instr, [json.loads(line) for line in lines]


def test_a_dropped_session_is_replaced_and_the_gap_recorded(
        tmp_path: Path, fake_sessions: type[FakeSession]) -> None:
    instr, events = dropped(tmp_path)
    current: Any = instr._session
    assert current is fake_sessions.made[-1] and len(fake_sessions.made) == 2
    assert [e["type"] for e in events] == ["agent.detached", "agent.reattached"]
    assert events[1]["data"]["installed"] == 2 and events[1]["data"]["gap_s"] >= 0
    assert instr.unexpected_exit is None and len(instr.uninstrumented) == 1


@pytest.mark.parametrize("fail_at", ["attach", "init"])
def test_a_failed_reattach_leaves_the_detach_standing(
        tmp_path: Path, fake_sessions: type[FakeSession], fail_at: str) -> None:
    fake_sessions.fail_at = fail_at
    instr, events = dropped(tmp_path)
    assert instr.unexpected_exit == "application-requested"
    assert [e["type"] for e in events] == ["agent.detached", "agent.error"]
    assert "re-attach after 'application-requested' failed" in events[1]["data"]["message"]
    if fail_at == "init":  # the half set-up session does not stay in the app
        assert len(fake_sessions.made) == 2 and fake_sessions.made[-1].detached


def test_without_reattach_the_detach_ends_the_run_at_once(
        tmp_path: Path, fake_sessions: type[FakeSession]) -> None:
    instr, events = dropped(tmp_path, reattach=False)
    assert instr.unexpected_exit == "application-requested"
    assert [e["type"] for e in events] == ["agent.detached"] and len(fake_sessions.made) == 1


def test_a_closed_connection_is_an_instrumentation_error() -> None:
    # Attaching while Frida tears the agent down raises this; unmapped it killed the
    # re-attach thread without a word.
    with pytest.raises(InstrumentationError, match="attaching: the connection is closed"):
        with frida_adapter.map_frida_errors("attaching"):
            raise frida.ProtocolError("the connection is closed")


@pytest.mark.parametrize("child", [False, True], ids=["app", "child"])
@pytest.mark.parametrize(("reason", "type_", "link_lost"), [
    ("process-terminated", "app.exit", None),
    ("connection-terminated", "agent.detached", True),
    ("device-lost", "agent.detached", True),
    ("process-replaced", "agent.detached", None),
])
def test_only_a_terminated_process_is_an_app_exit(
        tmp_path: Path, fake_sessions: type[FakeSession], reason: str, type_: str,
        link_lost: bool | None, child: bool) -> None:
    # Rules read app.exit as the app leaving (exit after refusal): a lost USB link or adb
    # connection must not pass for one.
    _, events = dropped(tmp_path, reattach=False, reason=reason, child=child)
    assert [(e["type"], e["data"]["reason"], e["data"].get("link_lost")) for e in events] == [
        (type_, reason, link_lost)]
