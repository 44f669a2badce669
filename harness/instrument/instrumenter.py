"""Attach the agent to an app process and turn its messages into timeline events."""

from __future__ import annotations

import functools
import logging
import threading
import time
from pathlib import PurePosixPath
from typing import Any

from harness.clock import ZERO, ClockOffset, measure
from harness.errors import InstrumentationError
from harness.instrument import frida_adapter
from harness.instrument.agent_build import AgentBundle
from harness.instrument.app_processes import AppProcessGate
from harness.instrument.catalogue import Catalogue
from harness.instrument.protocol import decode
from harness.recorder import Recorder
from harness.targets.base import FridaDeviceRef, SpawnedApp

log = logging.getLogger(__name__)

# A re-attach whose attach fails is tried once more after a short pause (see _reattach).
REATTACH_ATTEMPTS = 2
REATTACH_RETRY_DELAY = 0.3


def child_process_name(child: frida_adapter.ChildInfo, parent_process: str) -> str:
    """What a child is called in events: its own name when Frida knows one (spawn, exec),
    else ``<parent>:<pid>`` (a fork runs the parent's program, like Android's ``pkg:push``)."""
    if child.identifier:
        return child.identifier
    if child.path:
        return PurePosixPath(child.path).name
    return f"{parent_process}:{child.pid}"


class Instrumenter:
    """One agent session per app process; events go straight to the recorder.

    With ``follow_children`` the app's child processes are held at birth (child gating),
    get the agent with their own process name, and only then run. With
    ``follow_app_processes`` (Android) the app's processes that zygote starts (``pkg:push``)
    are held the same way through device-wide spawn gating (:mod:`.app_processes`).
    """

    def __init__(self, recorder: Recorder, catalogue: Catalogue, bundle: AgentBundle,
                 device: FridaDeviceRef, *, agent_options: dict[str, Any] | None = None,
                 follow_children: bool = False, follow_app_processes: bool = False,
                 script_runtime: frida_adapter.ScriptRuntime = "qjs",
                 reattach: bool = True) -> None:
        self.recorder = recorder
        self.catalogue = catalogue
        self.bundle = bundle
        self.device = device
        self.agent_options = dict(agent_options or {})
        """Extra init options for the agent (native, plaintext, unpin, maxBuffered, ...)."""
        self.follow_children = follow_children
        self.follow_app_processes = follow_app_processes
        self.script_runtime: frida_adapter.ScriptRuntime = script_runtime
        self.reattach = reattach
        """Re-attach to the app when Frida drops its session while it runs (see
        :meth:`_reattach`); off only to measure the loss it recovers."""
        self.clock: ClockOffset = ZERO
        self.coverage: dict[str, Any] = {}
        self.dropped = 0
        self.unexpected_exit: str | None = None
        self.uninstrumented: list[str] = []
        """Processes of the app that run without the agent, each with why (for the manifest's
        ``degraded``: their reads are missing from the run)."""
        self.children: dict[int, str] = {}
        """pid → process name of every child the agent was loaded into."""
        self._session: frida_adapter.AgentSession | None = None
        self._reattaching: frida_adapter.AgentSession | None = None
        """The app's session a re-attach is setting up, not yet installed as ``_session``."""
        self._let_go: set[frida_adapter.AgentSession] = set()
        """Sessions we detached ourselves (a re-attach abandoned): their detach is expected."""
        self._child_sessions: dict[int, frida_adapter.AgentSession] = {}
        self._child_threads: list[threading.Thread] = []
        self._stop_watching: Any = None
        self._app_gate: AppProcessGate | None = None
        self._lock = threading.Lock()
        self._spawned: SpawnedApp | None = None
        self._expect_exit = False
        self._last_app_message = 0.0
        """Host time of the newest event the app's agent delivered: a dropped session's loss
        starts after it."""

    def attach(self, spawned: SpawnedApp) -> dict[str, Any]:
        """Attach, load the agent, measure the clock, install the hooks. Returns coverage."""
        self._spawned = spawned
        self._expect_exit = False
        self._last_app_message = time.time()
        session = frida_adapter.AgentSession(self.device, spawned.pid)
        self._session = session
        session.load(self.bundle.source, self._on_app_message,
                     lambda reason: self._on_detached(session, reason),
                     runtime=self.script_runtime)
        self.clock = measure(lambda: float(session.call("now")))
        if self.follow_children:
            self._watch_children(session)
        coverage = session.call("init", self.catalogue.to_agent(),
                                {**self.agent_options, "process": spawned.process})
        installed = list(coverage.get("installed", []))
        skipped = list(coverage.get("skipped", []))
        reasons: dict[str, int] = {}
        for item in skipped:
            reason = str(item.get("reason", "")).split(":", 1)[0]
            reasons[reason] = reasons.get(reason, 0) + 1
        self.coverage = {"runtime": coverage.get("runtime"),
                         "script_runtime": session.script_runtime, "installed": len(installed),
                         "skipped": len(skipped), "skipped_by_reason": reasons,
                         "total": len(self.catalogue.entries),
                         "layers": _layer_counts(coverage.get("layers") or {})}
        self.recorder.record("agent.coverage", {**self.coverage, "pid": spawned.pid,
                                                "skipped_entries": skipped,
                                                "clock": self.clock.to_json()})
        if self.follow_app_processes and self._app_gate is None:
            self._gate_app_processes(spawned.process)
        return self.coverage

    # --- child processes ---

    def _watch_children(self, session: frida_adapter.AgentSession) -> None:
        session.enable_child_gating()
        if self._stop_watching is None:
            self._stop_watching = frida_adapter.watch_children(self.device, self._on_child)

    def _on_child(self, child: frida_adapter.ChildInfo) -> None:
        # The device reports children of every gated session: take only our app's family.
        ours = {self._spawned.pid if self._spawned else -1, *self.children}
        if child.parent_pid not in ours and child.pid not in ours:
            return
        # Frida's thread must not block: attaching and init run on a thread of their own.
        thread = threading.Thread(target=self._instrument_child, args=(child,),
                                  name=f"child-{child.pid}", daemon=True)
        with self._lock:
            self._child_threads.append(thread)
        thread.start()

    def _gate_app_processes(self, package: str) -> None:
        try:
            gate = AppProcessGate(frida_adapter.FridaSpawnGate(self.device), package,
                                  self._instrument_spawn, on_error=self._spawn_error)
            gate.start()  # before the app runs: its first :push process may start at once
        except InstrumentationError as exc:
            # The main process is instrumented; its other processes will not be. Loud in
            # the bundle rather than a failed run on a device whose zygote Frida cannot gate.
            log.warning("the app's other processes will not be followed: %s", exc)
            self.recorder.record("agent.error", {"process": package, "message":
                                                 f"app processes not followed: {exc}"})
            self.uninstrumented.append(f"app processes of {package} not followed: {exc}")
            return
        self._app_gate = gate
        self.recorder.record("agent.spawn_gating", {"package": package, "enabled": True})

    def _instrument_spawn(self, spawn: frida_adapter.SpawnInfo) -> None:
        child = frida_adapter.ChildInfo(pid=spawn.pid, parent_pid=None, origin="spawn",
                                        identifier=spawn.identifier, path=None, argv=None)
        self._instrument_child(child, resume=False)  # the gate resumes it

    def _spawn_error(self, spawn: frida_adapter.SpawnInfo, message: str) -> None:
        self.recorder.record("agent.error", {"pid": spawn.pid, "process": spawn.identifier,
                                             "message": f"app process: {message}"})
        self.uninstrumented.append(f"app process {spawn.identifier} (pid {spawn.pid}): {message}")

    def _instrument_child(self, child: frida_adapter.ChildInfo, *, resume: bool = True) -> None:
        known = self.children.get(child.parent_pid) if child.parent_pid is not None else None
        parent = known or (self._spawned.process if self._spawned else "")
        name = child_process_name(child, parent)
        self.recorder.record("app.child", {"pid": child.pid, "parent_pid": child.parent_pid,
                                           "origin": child.origin, "process": name,
                                           "path": child.path, "argv": child.argv})
        try:
            session = frida_adapter.AgentSession(self.device, child.pid)
            session.load(self.bundle.source, self._on_message,
                         lambda reason: self._on_child_detached(child.pid, name, reason),
                         runtime=self.script_runtime)
            coverage = session.call("init", self.catalogue.to_agent(),
                                    {**self.agent_options, "process": name})
            with self._lock:
                self._child_sessions[child.pid] = session
                self.children[child.pid] = name
            self.recorder.record("agent.coverage", {
                "pid": child.pid, "process": name, "runtime": coverage.get("runtime"),
                "script_runtime": session.script_runtime,
                "installed": len(coverage.get("installed", [])),
                "skipped": len(coverage.get("skipped", [])),
                "layers": _layer_counts(coverage.get("layers") or {})})
        except InstrumentationError as exc:
            # Loud: the child runs uninstrumented, and the bundle says so.
            self.recorder.record("agent.error", {"pid": child.pid, "process": name,
                                                 "message": f"child not instrumented: {exc}"})
            self.uninstrumented.append(f"child {name} (pid {child.pid}) not instrumented: {exc}")
        finally:
            if resume:
                try:
                    frida_adapter.resume(self.device, child.pid)
                except InstrumentationError as exc:
                    log.warning("could not resume child %s: %s", child.pid, exc)

    def _on_child_detached(self, pid: int, name: str, reason: str) -> None:
        self.recorder.record(*_detach_event(reason, {"pid": pid, "process": name,
                                                     "child": True}))
        if reason == "application-requested" and not self._expect_exit:
            # Frida's fork bug can drop a child's session too (a grandchild attached). Not
            # re-attached: a child may be ending, and its name and gating would have to be
            # rebuilt; it runs on without the agent, and the manifest says so.
            self.uninstrumented.append(
                f"child {name} (pid {pid}): Frida ended the agent's session ({reason}) "
                "while the run went on; its later events are missing")

    def _on_app_message(self, message: dict[str, Any], data: bytes | None) -> None:
        received = time.time()
        newest = self._record_batch(message, data)
        # Where a dropped session's loss begins: the newest event delivered (its device time
        # on the host clock), not when the batch arrived, which can be much later.
        self._last_app_message = min(newest, received) if newest is not None else received

    def _on_message(self, message: dict[str, Any], data: bytes | None) -> None:
        self._record_batch(message, data)

    def _record_batch(self, message: dict[str, Any], data: bytes | None) -> float | None:
        """Record an agent's batch; returns the newest event's host time, if any has one."""
        # Called on Frida's thread: only decode and append (the recorder is thread-safe).
        records = decode(message, data)
        for record in records:
            if record.type == "agent.dropped":
                self.dropped += int(record.data.get("count", 0))
        to_host = self.clock.to_host
        batch = [(r.type, r.data, to_host(r.device_t) if r.device_t is not None else None)
                 for r in records]
        self.recorder.record_batch(batch, source="agent")
        return max((t for _, _, t in batch if t is not None), default=None)

    def _on_detached(self, session: frida_adapter.AgentSession, reason: str) -> None:
        spawned = self._spawned
        with self._lock:
            current = session is self._session
            role = ("app" if current else "reattaching" if session is self._reattaching
                    else "replaced")
            ours = session in self._let_go
        # Recorded whichever session it is: a re-attached session that dies during its
        # init is evidence too (its re-attach then reports the gap as not closed).
        detached = self.recorder.record(*_detach_event(reason, {
            "pid": spawned.pid if spawned else None, "expected": self._expect_exit or ours,
            **({} if current else {"session": role})}))
        if not current or self._expect_exit:
            return
        if self.reattach and spawned is not None and reason == "application-requested":
            # Frida's fork bug (see _reattach): the app runs on, only our session was
            # dropped. Called on Frida's thread: re-attach on one of our own.
            # Events the agent had buffered but not sent are lost with it: the gap starts
            # after the newest event it delivered, not at the detach.
            gap_start = min(self._last_app_message, detached.t)
            thread = threading.Thread(target=self._reattach, args=(spawned, reason, gap_start),
                                      name=f"reattach-{spawned.pid}", daemon=True)
            with self._lock:
                self._child_threads.append(thread)
            thread.start()
            return
        self.unexpected_exit = reason

    def _reattach(self, spawned: SpawnedApp, reason: str, gap_start: float) -> None:
        """Attach a fresh agent to the app after Frida dropped its session.

        Frida 17.26 (frida-core host-session-service ``on_agent_session_provider_closed``)
        forgets a session by id whichever process reports it closed. A forked child inherits
        the parent's session; frida-core closes that copy in the child after the fork, and
        when the close ends after the host has taken the child's signals (slow QuickJS
        teardown: frida-java-bridge's ``Script.bindWeak`` defers it), the host ends the
        *parent's* session with ``application-requested`` and, that being its only session,
        unloads the agent from the parent (checked: frida-agent unmapped, hooks gone). The
        app runs on uninstrumented until the new agent's hooks are live: what it read
        meanwhile, what the old agent had buffered, and children it forked (no gating) are
        lost. An explicit ``agent.reattached`` event gives that gap; the run is degraded.

        When the gap cannot be closed (the attach or init fails, the new session is dropped
        before it is installed, or the run ends meanwhile) ``agent.gap`` reports it open up
        to then. No second re-attach: a session dropped twice in a row ends the run
        (``unexpected_exit``) unless the run was ending anyway.

        Not verified at run time: frida-core unloads the old agent asynchronously, and its
        Java bridge reverts its method replacements as it goes; landing after the new
        agent's hooks, that revert would undo them without a word. Locally the old agent is
        unmapped within 50 ms, before the new one is injected, and the new hooks stay live
        (tests/integration/test_children.py, HotSpot and native); a device may differ."""
        session: frida_adapter.AgentSession | None = None
        for attempt in range(1, REATTACH_ATTEMPTS + 1):
            try:
                session = frida_adapter.AgentSession(self.device, spawned.pid)
                with self._lock:
                    self._reattaching = session  # from here its detach is ours to record
                session.load(self.bundle.source, self._on_app_message,
                             functools.partial(self._on_detached, session),
                             runtime=self.script_runtime)
                if self.follow_children:
                    session.enable_child_gating()
                coverage = session.call("init", self.catalogue.to_agent(),
                                        {**self.agent_options, "process": spawned.process})
                break
            except Exception as exc:  # noqa: BLE001 - whatever failed, the detach must stand
                if session is None and attempt < REATTACH_ATTEMPTS and not self._expect_exit:
                    # The attach itself failed: Frida may still be tearing the old agent
                    # down ("the connection is closed"). Once more, shortly.
                    self.recorder.record("agent.error", {
                        "pid": spawned.pid, "process": spawned.process,
                        "message": f"re-attach after '{reason}' failed, trying again: {exc}"})
                    time.sleep(REATTACH_RETRY_DELAY)
                    continue
                # Most often the app has ended meanwhile: then the detach stands as it was.
                self.recorder.record("agent.error", {
                    "pid": spawned.pid, "process": spawned.process,
                    "message": f"re-attach after '{reason}' failed: {exc}"})
                self._abandon(session, spawned, reason, gap_start, f"re-attach failed: {exc}")
                return
        assert session is not None  # the loop is left by break only once init answered
        with self._lock:
            self._reattaching = None
            # Frida sets detached_reason before it calls back: a session that is not dropped
            # by now is installed, and a later drop finds it current.
            lost, ended = session.detached_reason, self._expect_exit
            if lost is None and not ended:
                self._session = session
        if lost is not None or ended:
            why = (f"the new session was dropped too ({lost})" if lost is not None
                   else "the run ended first")
            self._abandon(session, spawned, reason, gap_start, why, lost=lost)
            return
        live_t = time.time()  # the recorder's host clock: the hooks are live from here
        gap = round(live_t - gap_start, 3)
        self.recorder.record("agent.reattached", {
            "pid": spawned.pid, "process": spawned.process, "reason": reason,
            "gap_start": gap_start, "gap_end": live_t, "gap_s": gap,
            "installed": len(coverage.get("installed", [])),
            "lost": "this process's events after gap_start (the newest event delivered) "
                    "until gap_end, and any child it forked meanwhile (not gated)"})
        self.uninstrumented.append(
            f"{spawned.process} (pid {spawned.pid}): Frida ended the agent's session "
            f"({reason}) while the app ran on; re-attached after {gap} s, the events of "
            "that gap are missing")

    def _abandon(self, session: frida_adapter.AgentSession | None, spawned: SpawnedApp,
                 reason: str, gap_start: float, why: str, *, lost: str | None = None) -> None:
        """A re-attach that did not close the gap: let its session go, report the gap open
        from ``gap_start`` to now, and end the run unless it was ending anyway."""
        with self._lock:
            self._reattaching = None
            if session is not None:
                self._let_go.add(session)
        if session is not None:
            session.detach()  # half set up: it must not outlive the failure
        gap_end = time.time()
        gap = round(gap_end - gap_start, 3)
        self.recorder.record("agent.gap", {
            "pid": spawned.pid, "process": spawned.process, "reason": reason,
            "closed": False, "why": why, "gap_start": gap_start, "gap_end": gap_end,
            "gap_s": gap, "lost": "this process's events after gap_start (the newest event "
            "delivered) until its end or the end of the run"})
        self.uninstrumented.append(
            f"{spawned.process} (pid {spawned.pid}): Frida ended the agent's session "
            f"({reason}) and it was not re-attached ({why}, {gap} s later); its events after "
            f"{gap_start:.3f} (host time) are missing")
        if not self._expect_exit:
            self.unexpected_exit = lost or reason

    def flush(self) -> None:
        """Have every live agent, the app's and its children's, send what it has buffered.

        Each reply comes after the events it flushed, so when this returns they are
        recorded: call it before killing the app, whose children die with it."""
        with self._lock:
            sessions = [self._session, *self._child_sessions.values()]
        for session in sessions:
            if session is None or session.detached_reason is not None:
                continue
            try:
                session.call("flush")
            except InstrumentationError as exc:  # the process may be gone: say so, go on
                log.debug("agent flush in pid %s failed: %s", session.pid, exc)

    def agent_stats(self) -> dict[str, Any]:
        """The agent's counters: events sent and dropped so far, its heap in bytes."""
        if self._session is None or self._session.detached_reason is not None:
            raise InstrumentationError("the agent is not attached")
        return dict(self._session.call("stats"))

    def expect_exit(self) -> None:
        """The next detach is ours (stop or restart), not a crash."""
        self._expect_exit = True

    def detach(self) -> None:
        self._expect_exit = True
        if self._app_gate is not None:
            # First: nothing may stay held on the device once we stop listening.
            self._app_gate.stop()
            self._app_gate = None
            self.recorder.record("agent.spawn_gating", {"enabled": False})
        with self._lock:
            threads = list(self._child_threads)
        for thread in threads:
            thread.join(timeout=30)
        with self._lock:
            children = list(self._child_sessions.values())
            self._child_sessions.clear()
        for child in children:
            if child.detached_reason is None:
                try:
                    child.call("flush")  # its reply comes after the events it flushed
                except InstrumentationError:
                    # The child has ended: its last events are in flight until the detach.
                    if not child.wait_detached(5.0):
                        self.recorder.record("agent.error", {
                            "pid": child.pid, "message": "child ended without Frida "
                            "reporting it within 5 s; its last events may be missing"})
            child.detach()
        if self._session is not None:
            self.flush()  # the children's sessions are gone by now: only the app's is left
            self._session.detach()
            self._session = None
        if self._stop_watching is not None:
            self._stop_watching()
            self._stop_watching = None


def _layer_counts(layers: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per native layer: how many hooks installed, and the skipped ones with reasons."""
    return {name: {"installed": len(layer.get("installed", [])),
                   "skipped": list(layer.get("skipped", []))}
            for name, layer in layers.items()}


# Frida's detach reasons that mean a lost link to the device, not a process that ended.
_LINK_LOST = ("connection-terminated", "device-lost")


def _detach_event(reason: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``app.exit`` only when the process ended: rules read it as the app leaving (e.g.
    exit after refusal), so a lost USB link must not pass for one."""
    if reason == "process-terminated":
        return "app.exit", {"reason": reason, **data}
    return "agent.detached", {"reason": reason, **data,
                              **({"link_lost": True} if reason in _LINK_LOST else {})}
