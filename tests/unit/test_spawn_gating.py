"""The spawn-gating glue for the app's zygote-started processes, against a narrow fake gate.

Spawn gating does not exist on the local Linux device (see
tests/integration/test_children.py); the real thing is exercised in
tests/device/test_app_processes.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.errors import InstrumentationError
from harness.instrument import frida_adapter
from harness.instrument.agent_build import AgentBundle
from harness.instrument.app_processes import AppProcessGate, is_app_process
from harness.instrument.catalogue import Catalogue
from harness.instrument.frida_adapter import SpawnInfo
from harness.instrument.instrumenter import Instrumenter
from harness.recorder import Recorder
from harness.targets.base import FridaDeviceRef, SpawnedApp

PKG = "com.example.app"


class FakeGate:
    """Holds spawns like frida-server: until resumed, or until gating is disabled."""

    def __init__(self, held: list[SpawnInfo] | None = None, *,
                 fail_enable: bool = False) -> None:
        self.held: dict[int, SpawnInfo] = {s.pid: s for s in held or []}
        self.enabled = False
        self.listener: Callable[[SpawnInfo], None] | None = None
        self.log: list[str] = []
        self.fail_enable = fail_enable
        self.disable_resumes = True
        self.resumed = threading.Event()
        self._lock = threading.Lock()

    def enable(self) -> None:
        if self.fail_enable:
            raise InstrumentationError("enabling spawn gating: not supported here")
        self.enabled = True
        self.log.append("enable")

    def disable(self) -> None:
        self.enabled = False
        self.log.append("disable")
        if self.disable_resumes:
            for pid in list(self.held):
                self.resume(pid)

    def pending(self) -> list[SpawnInfo]:
        with self._lock:
            return list(self.held.values())

    def resume(self, pid: int) -> None:
        with self._lock:
            if self.held.pop(pid, None) is None:
                raise InstrumentationError(f"resuming spawned pid {pid}: no such pid")
            self.log.append(f"resume {pid}")
        self.resumed.set()

    def on_spawn(self, callback: Callable[[SpawnInfo], None]) -> Callable[[], None]:
        self.listener = callback
        self.log.append("listen")

        def stop() -> None:
            self.listener = None
            self.log.append("unlisten")

        return stop

    def birth(self, pid: int, identifier: str) -> SpawnInfo:
        """zygote starts a process while gating is on: held, then announced."""
        assert self.enabled and self.listener is not None
        spawn = SpawnInfo(pid=pid, identifier=identifier)
        with self._lock:
            self.held[pid] = spawn
        self.listener(spawn)
        return spawn


class Calls:
    def __init__(self, gate: FakeGate, fail: bool = False) -> None:
        self.gate = gate
        self.fail = fail
        self.instrumented: list[tuple[int, bool]] = []
        self.errors: list[tuple[int, str]] = []

    def instrument(self, spawn: SpawnInfo) -> None:
        # Still held while the agent goes in: that is the point of gating.
        self.instrumented.append((spawn.pid, spawn.pid in self.gate.held))
        if self.fail:
            raise InstrumentationError("attaching: the process is gone")

    def on_error(self, spawn: SpawnInfo, message: str) -> None:
        self.errors.append((spawn.pid, message))


def _gate(gate: FakeGate, calls: Calls, **kwargs: Any) -> AppProcessGate:
    return AppProcessGate(gate, PKG, calls.instrument, on_error=calls.on_error, **kwargs)


@pytest.mark.parametrize(("identifier", "ours"), [
    (PKG, True), (f"{PKG}:push", True), (f"{PKG}:remote", True),
    (f"{PKG}.other", False), ("com.example.application:push", False),
    ("com.android.chrome", False), ("", False), (None, False)])
def test_the_app_is_the_package_and_its_colon_processes(identifier: str | None,
                                                        ours: bool) -> None:
    assert is_app_process(identifier, PKG) is ours


def test_app_processes_get_the_agent_while_held_others_are_released_at_once() -> None:
    fake = FakeGate()
    calls = Calls(fake)
    gate = _gate(fake, calls)
    gate.start()
    assert fake.log == ["listen", "enable"]
    fake.birth(101, "com.android.systemui")
    fake.birth(102, f"{PKG}:push")
    fake.birth(103, "com.other.app:remote")
    gate.stop()
    assert calls.instrumented == [(102, True)]
    assert not fake.held and {"resume 101", "resume 102", "resume 103"} <= set(fake.log)
    assert [s.pid for s in gate.released] == [101, 103]
    assert calls.errors == []
    assert fake.log.index("unlisten") < fake.log.index("disable")


def test_a_pid_given_again_after_its_process_was_resumed_is_handled_again() -> None:
    fake = FakeGate()
    calls = Calls(fake)
    gate = _gate(fake, calls)
    gate.start()
    fake.birth(301, f"{PKG}:push")
    assert fake.resumed.wait(5)
    deadline = time.monotonic() + 5
    while 301 in gate._seen and time.monotonic() < deadline:
        time.sleep(0.01)
    fake.birth(301, f"{PKG}:remote")  # the kernel reused the pid for a later process
    gate.stop()
    assert [pid for pid, _ in calls.instrumented] == [301, 301]
    assert not fake.held


def test_spawns_held_before_we_listened_are_handled_at_start() -> None:
    fake = FakeGate([SpawnInfo(7, f"{PKG}:remote"), SpawnInfo(8, "logd")])
    calls = Calls(fake)
    gate = _gate(fake, calls)
    gate.start()
    gate.stop()
    assert calls.instrumented == [(7, True)]
    assert not fake.held


def test_a_failed_instrumentation_is_reported_and_the_process_still_runs() -> None:
    fake = FakeGate()
    calls = Calls(fake, fail=True)
    gate = _gate(fake, calls)
    gate.start()
    fake.birth(55, f"{PKG}:push")
    assert fake.resumed.wait(5)
    gate.stop()
    assert calls.errors and calls.errors[0][0] == 55
    assert "the process is gone" in calls.errors[0][1]
    assert "resume 55" in fake.log


def test_extra_process_names_belong_to_the_app() -> None:
    fake = FakeGate()
    calls = Calls(fake)
    gate = _gate(fake, calls, extra=frozenset({"com.vendor.sharedpush"}))
    gate.start()
    fake.birth(9, "com.vendor.sharedpush")
    gate.stop()
    assert calls.instrumented == [(9, True)]


def test_stop_resumes_what_disabling_left_held() -> None:
    fake = FakeGate()
    fake.disable_resumes = False  # a frida-server that forgets: we must not
    calls = Calls(fake)
    gate = _gate(fake, calls)
    gate.start()
    # Announced but never handed to us (the signal lost): still held at stop.
    fake.held[77] = SpawnInfo(77, "com.android.phone")
    gate.stop()
    assert not fake.held and "resume 77" in fake.log
    gate.stop()  # twice is harmless


def test_a_failed_enable_leaves_nothing_listening() -> None:
    fake = FakeGate(fail_enable=True)
    gate = _gate(fake, Calls(fake))
    with pytest.raises(InstrumentationError, match="not supported"):
        gate.start()
    assert fake.listener is None and fake.log[-1] == "disable"


# --- the Instrumenter's wiring, with the Frida session faked too ---


class FakeSession:
    """Stands in for frida_adapter.AgentSession: records the agent's init per pid."""

    inits: dict[int, dict[str, Any]] = {}

    def __init__(self, ref: FridaDeviceRef, pid: int) -> None:
        self.pid = pid
        self.detached_reason: str | None = None
        self.on_message: Any = None

    def load(self, source: str, on_message: Any, on_detached: Any = None, *,
             runtime: str = "qjs") -> None:
        self.script_runtime = runtime
        self.on_message = on_message

    def call(self, method: str, *args: Any) -> Any:
        if method == "now":
            return time.time() * 1000
        if method == "init":
            FakeSession.inits[self.pid] = dict(args[1])
            return {"installed": [], "skipped": [], "runtime": "art 14"}
        return 0

    def enable_child_gating(self) -> None:
        pass

    def wait_detached(self, timeout: float) -> bool:
        return True

    def detach(self) -> None:
        self.detached_reason = "application-requested"


def test_instrumenter_gates_the_apps_processes_and_stops_on_detach(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeGate()
    FakeSession.inits = {}
    monkeypatch.setattr(frida_adapter, "FridaSpawnGate", lambda ref: fake)
    monkeypatch.setattr(frida_adapter, "AgentSession", FakeSession)
    monkeypatch.setattr(frida_adapter, "watch_children", lambda ref, cb: lambda: None)
    recorder = Recorder(tmp_path / "run")
    bundle = AgentBundle(source="", sha256="0", path=tmp_path / "agent.js", java_bridge="test",
                         cached=True)
    instrumenter = Instrumenter(recorder, Catalogue(()), bundle, FridaDeviceRef(kind="usb"),
                                follow_children=True, follow_app_processes=True)
    instrumenter.attach(SpawnedApp(pid=100, process=PKG))
    assert fake.enabled
    fake.birth(200, f"{PKG}:push")
    fake.birth(300, "com.android.vending")
    instrumenter.detach()
    recorder.close()

    assert not fake.enabled and not fake.held
    assert FakeSession.inits[200]["process"] == f"{PKG}:push"
    assert 300 not in FakeSession.inits
    assert instrumenter.children == {200: f"{PKG}:push"}
    events = [json.loads(line) for line in
              (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    (child,) = [e["data"] for e in events if e["type"] == "app.child"]
    assert child == {"pid": 200, "parent_pid": None, "origin": "spawn",
                     "process": f"{PKG}:push", "path": None, "argv": None}
    gating = [e["data"] for e in events if e["type"] == "agent.spawn_gating"]
    assert gating == [{"package": PKG, "enabled": True}, {"enabled": False}]
    assert instrumenter.uninstrumented == []


def test_instrumenter_records_when_it_cannot_gate_and_keeps_the_main_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeGate(fail_enable=True)
    FakeSession.inits = {}
    monkeypatch.setattr(frida_adapter, "FridaSpawnGate", lambda ref: fake)
    monkeypatch.setattr(frida_adapter, "AgentSession", FakeSession)
    recorder = Recorder(tmp_path / "run")
    bundle = AgentBundle(source="", sha256="0", path=tmp_path / "agent.js", java_bridge="test",
                         cached=True)
    instrumenter = Instrumenter(recorder, Catalogue(()), bundle, FridaDeviceRef(kind="usb"),
                                follow_app_processes=True)
    instrumenter.attach(SpawnedApp(pid=100, process=PKG))
    instrumenter.detach()
    recorder.close()
    assert 100 in FakeSession.inits and fake.listener is None
    events = [json.loads(line) for line in
              (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    errors = [e["data"]["message"] for e in events if e["type"] == "agent.error"]
    assert errors == ["app processes not followed: enabling spawn gating: not supported here"]
    assert not [e for e in events if e["type"] == "agent.spawn_gating"]
    # ... and the session puts it in the manifest's `degraded`: those reads are missing.
    assert instrumenter.uninstrumented == [
        f"app processes of {PKG} not followed: enabling spawn gating: not supported here"]
