"""When Frida drops the app's session while it runs, the instrumenter re-attaches; when that
fails the detach stands, loudly. Glue only: a stand-in for the Frida session (the real
re-attach runs in tests/integration/test_children.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import frida
import pytest

from harness.clock import ClockOffset
from harness.errors import InstrumentationError
from harness.instrument import frida_adapter, instrumenter
from harness.instrument.agent_build import AgentBundle
from harness.instrument.catalogue import Catalogue
from harness.instrument.instrumenter import Instrumenter
from harness.recorder import Recorder
from harness.targets.base import FridaDeviceRef, SpawnedApp


class FakeSession:
    """Attaches, or fails at the step named in ``fail_at``; ``during_init`` runs inside the
    init call (where the real one waits on the app). Detaches like AgentSession: the reason
    is set before the callback runs, and our own detach reports ``application-requested``."""

    fail_at: str | None = None
    attach_failures = 0
    """How many re-attach attaches fail before one succeeds (``fail_at="attach"``: all)."""
    during_init: Callable[[FakeSession], None] | None = None
    made: list[FakeSession] = []

    def __init__(self, ref: FridaDeviceRef, pid: int) -> None:
        if FakeSession.made and (FakeSession.fail_at == "attach"
                                 or FakeSession.attach_failures > 0):  # a re-attach's attach
            FakeSession.attach_failures -= 1
            raise InstrumentationError(f"attaching to pid {pid}: the connection is closed")
        self.pid = pid
        self.detached_reason: str | None = None
        self.on_detached: Callable[[str], None] | None = None
        FakeSession.made.append(self)

    def load(self, source: str, on_message: Any,
             on_detached: Callable[[str], None] | None = None, **kwargs: Any) -> None:
        self.on_detached = on_detached

    def enable_child_gating(self) -> None:
        pass

    def call(self, method: str, *args: Any) -> Any:
        if method == "init" and FakeSession.during_init is not None:
            FakeSession.during_init(self)
        if FakeSession.fail_at == "init":
            raise InstrumentationError("agent rpc init failed: boom")
        return {"installed": ["a", "b"]}

    def drop(self, reason: str) -> None:
        """Frida ends the session."""
        self.detached_reason = reason
        if self.on_detached is not None:
            self.on_detached(reason)

    def detach(self) -> None:
        if self.detached_reason is None:
            self.drop("application-requested")


@pytest.fixture
def fake_sessions(monkeypatch: pytest.MonkeyPatch) -> type[FakeSession]:
    FakeSession.fail_at, FakeSession.during_init, FakeSession.made = None, None, []
    FakeSession.attach_failures = 0
    monkeypatch.setattr(instrumenter, "REATTACH_RETRY_DELAY", 0.01)
    monkeypatch.setattr(frida_adapter, "AgentSession", FakeSession)
    return FakeSession


def dropped(tmp_path: Path, *, reattach: bool = True, reason: str = "application-requested",
            child: bool = False, before: Callable[[Instrumenter], None] | None = None,
            ) -> tuple[Instrumenter, list[dict[str, Any]]]:
    """An instrumenter whose app session Frida just dropped; its events once settled.
    ``before`` runs on it first (what happened before the drop)."""
    recorder = Recorder(tmp_path / "run")
    bundle = AgentBundle("", "0" * 64, tmp_path / "agent.js", "7.0.13", True)
    instr = Instrumenter(recorder, Catalogue(()), bundle, FridaDeviceRef(kind="local"),
                         follow_children=True, reattach=reattach)
    old: Any = FakeSession(FridaDeviceRef(kind="local"), 42)
    instr._spawned = SpawnedApp(pid=42, process="app")
    instr._session = old
    if before is not None:
        before(instr)
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


def test_an_attach_that_fails_once_is_tried_again_and_closes_the_gap(
        tmp_path: Path, fake_sessions: type[FakeSession]) -> None:
    fake_sessions.attach_failures = 1
    instr, events = dropped(tmp_path)
    assert [e["type"] for e in events] == ["agent.detached", "agent.error", "agent.reattached"]
    assert "trying again" in events[1]["data"]["message"]
    assert instr.unexpected_exit is None and instr._session is fake_sessions.made[-1]
    (degraded,) = instr.uninstrumented
    assert "re-attached after" in degraded


@pytest.mark.parametrize("fail_at", ["attach", "init"])
def test_a_failed_reattach_leaves_the_detach_standing(
        tmp_path: Path, fake_sessions: type[FakeSession], fail_at: str) -> None:
    fake_sessions.fail_at = fail_at
    instr, events = dropped(tmp_path)
    assert instr.unexpected_exit == "application-requested"
    types = [e["type"] for e in events]
    assert types[:2] == ["agent.detached", "agent.error"] and types[-1] == "agent.gap"
    assert "re-attach after 'application-requested' failed" in events[1]["data"]["message"]
    assert events[-1]["data"]["closed"] is False
    assert events[-1]["data"]["gap_start"] <= events[0]["t"] <= events[-1]["data"]["gap_end"]
    (degraded,) = instr.uninstrumented
    assert "not re-attached (re-attach failed" in degraded
    if fail_at == "attach":  # tried twice: Frida may still be tearing the old agent down
        assert "trying again" in events[1]["data"]["message"]
        assert types == ["agent.detached", "agent.error", "agent.error", "agent.gap"]
    else:  # init failed: the half set-up session does not stay in the app
        assert len(fake_sessions.made) == 2 and fake_sessions.made[-1].detached_reason
        # ... and its detach, ours, is recorded as expected, not as another drop.
        assert types == ["agent.detached", "agent.error", "agent.detached", "agent.gap"]
        assert events[2]["data"]["expected"] is True
        assert events[2]["data"]["session"] == "replaced"


@pytest.mark.parametrize("new_reason", ["process-terminated", "application-requested"])
def test_a_session_dropped_during_its_reattach_is_recorded_and_not_installed(
        tmp_path: Path, fake_sessions: type[FakeSession], new_reason: str) -> None:
    # The new session's detach came while init ran: it must neither vanish (it was once
    # ignored as "not the current session") nor be installed dead with a closed gap.
    fake_sessions.during_init = lambda session: session.drop(new_reason)
    instr, events = dropped(tmp_path)
    new: Any = fake_sessions.made[-1]
    assert len(fake_sessions.made) == 2  # no re-attach after the second drop
    assert instr._session is not new
    assert "agent.reattached" not in [e["type"] for e in events]
    kind = "app.exit" if new_reason == "process-terminated" else "agent.detached"
    assert [(e["type"], e["data"].get("session")) for e in events] == [
        ("agent.detached", None), (kind, "reattaching"), ("agent.gap", None)]
    assert events[1]["data"]["reason"] == new_reason and events[1]["data"]["expected"] is False
    assert f"dropped too ({new_reason})" in events[2]["data"]["why"]
    assert instr.unexpected_exit == new_reason
    (degraded,) = instr.uninstrumented
    assert "not re-attached" in degraded


def test_a_session_dropped_after_it_was_installed_is_handled_as_the_apps(
        tmp_path: Path, fake_sessions: type[FakeSession]) -> None:
    instr, _ = dropped(tmp_path)
    current: Any = instr._session
    assert current is fake_sessions.made[-1]
    fake_sessions.made[-1].drop("process-terminated")
    assert instr.unexpected_exit == "process-terminated"


@pytest.mark.parametrize("init_fails", [False, True], ids=["init-returns", "init-fails"])
def test_a_run_ending_during_a_reattach_still_reports_the_gap(
        tmp_path: Path, fake_sessions: type[FakeSession], init_fails: bool) -> None:
    # The run stops while the agent is re-attached: the loss from the drop to the end must
    # still reach the manifest, and the run's own stop is no unexpected exit.
    holder: list[Instrumenter] = []
    fake_sessions.during_init = lambda session: holder[0].expect_exit()
    fake_sessions.fail_at = "init" if init_fails else None
    instr, events = dropped(tmp_path, before=holder.append)
    new: Any = fake_sessions.made[-1]
    assert new.detached_reason is not None and instr._session is not new
    gap = [e["data"] for e in events if e["type"] == "agent.gap"]
    assert len(gap) == 1 and gap[0]["closed"] is False and gap[0]["gap_s"] >= 0
    if not init_fails:
        assert gap[0]["why"] == "the run ended first"
    assert "agent.reattached" not in [e["type"] for e in events]
    (degraded,) = instr.uninstrumented
    assert "not re-attached" in degraded
    assert instr.unexpected_exit is None


@pytest.mark.parametrize(("reason", "ending", "degraded"), [
    ("application-requested", False, True),   # Frida's fork bug, in a child
    ("application-requested", True, False),   # our own detach at the end of the run
    ("process-terminated", False, False),     # the child ended
])
def test_a_child_session_frida_drops_marks_the_run_degraded(
        tmp_path: Path, fake_sessions: type[FakeSession], reason: str, ending: bool,
        degraded: bool) -> None:
    instr, events = dropped(tmp_path, reason=reason, child=True,
                            before=(lambda i: i.expect_exit()) if ending else None)
    assert [e["data"]["pid"] for e in events] == [43]
    if degraded:
        (entry,) = instr.uninstrumented
        assert "app:child" in entry and "pid 43" in entry and reason in entry
    else:
        assert instr.uninstrumented == []
    assert len(fake_sessions.made) == 1  # a child is not re-attached
    assert instr.unexpected_exit is None


def test_the_gap_starts_at_the_newest_event_delivered_not_at_its_arrival(
        tmp_path: Path, fake_sessions: type[FakeSession]) -> None:
    # The agent batches: the last batch's newest event can be seconds older than its
    # arrival, and the loss starts after that event. Device clock 100 s ahead of the host.
    observed = time.time() - 5.0
    offset = 100.0

    def last_batch(instr: Instrumenter) -> None:
        instr.clock = ClockOffset(offset, 0.001, 8)
        events = [{"type": "hook.call", "device_t": observed - 1 + offset},
                  {"type": "hook.call", "device_t": observed + offset},
                  {"type": "agent.note"}]
        instr._on_app_message({"type": "send", "payload": {"v": 1, "type": "events",
                                                           "events": events}}, None)

    instr, events = dropped(tmp_path, before=last_batch)
    (gap,) = [e["data"] for e in events if e["type"] == "agent.reattached"]
    assert gap["gap_start"] == pytest.approx(observed, abs=1e-6)
    assert gap["gap_s"] >= 5.0


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
