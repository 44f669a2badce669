"""Attach the agent to an app process and turn its messages into timeline events."""

from __future__ import annotations

import logging
from typing import Any

from harness.clock import ZERO, ClockOffset, measure
from harness.errors import InstrumentationError
from harness.instrument import frida_adapter
from harness.instrument.agent_build import AgentBundle
from harness.instrument.catalogue import Catalogue
from harness.instrument.protocol import decode
from harness.recorder import Recorder
from harness.targets.base import FridaDeviceRef, SpawnedApp

log = logging.getLogger(__name__)


class Instrumenter:
    """One agent session per app process; events go straight to the recorder."""

    def __init__(self, recorder: Recorder, catalogue: Catalogue, bundle: AgentBundle,
                 device: FridaDeviceRef) -> None:
        self.recorder = recorder
        self.catalogue = catalogue
        self.bundle = bundle
        self.device = device
        self.clock: ClockOffset = ZERO
        self.coverage: dict[str, Any] = {}
        self.dropped = 0
        self.unexpected_exit: str | None = None
        self._session: frida_adapter.AgentSession | None = None
        self._spawned: SpawnedApp | None = None
        self._expect_exit = False

    def attach(self, spawned: SpawnedApp) -> dict[str, Any]:
        """Attach, load the agent, measure the clock, install the hooks. Returns coverage."""
        self._spawned = spawned
        self._expect_exit = False
        session = frida_adapter.AgentSession(self.device, spawned.pid)
        self._session = session
        session.load(self.bundle.source, self._on_message, self._on_detached)
        self.clock = measure(lambda: float(session.call("now")))
        coverage = session.call("init", self.catalogue.to_agent(),
                                {"process": spawned.process})
        installed = list(coverage.get("installed", []))
        skipped = list(coverage.get("skipped", []))
        reasons: dict[str, int] = {}
        for item in skipped:
            reason = str(item.get("reason", "")).split(":", 1)[0]
            reasons[reason] = reasons.get(reason, 0) + 1
        self.coverage = {"runtime": coverage.get("runtime"), "installed": len(installed),
                         "skipped": len(skipped), "skipped_by_reason": reasons,
                         "total": len(self.catalogue.entries)}
        self.recorder.record("agent.coverage", {**self.coverage, "pid": spawned.pid,
                                                "skipped_entries": skipped,
                                                "clock": self.clock.to_json()})
        return self.coverage

    def _on_message(self, message: dict[str, Any], data: bytes | None) -> None:
        # Called on Frida's thread: only decode and append (the recorder is thread-safe).
        for record in decode(message, data):
            if record.type == "agent.dropped":
                self.dropped += int(record.data.get("count", 0))
            t = self.clock.to_host(record.device_t) if record.device_t is not None else None
            self.recorder.record(record.type, record.data, t=t, source="agent")

    def _on_detached(self, reason: str) -> None:
        spawned = self._spawned
        self.recorder.record("app.exit" if "terminated" in reason else "agent.detached",
                             {"reason": reason, "pid": spawned.pid if spawned else None,
                              "expected": self._expect_exit})
        if not self._expect_exit:
            self.unexpected_exit = reason

    def flush(self) -> None:
        if self._session is not None and self._session.detached_reason is None:
            try:
                self._session.call("flush")
            except InstrumentationError as exc:  # the app may be gone: say so, go on
                log.debug("agent flush failed: %s", exc)

    def expect_exit(self) -> None:
        """The next detach is ours (stop or restart), not a crash."""
        self._expect_exit = True

    def detach(self) -> None:
        self._expect_exit = True
        if self._session is not None:
            self.flush()
            self._session.detach()
            self._session = None
