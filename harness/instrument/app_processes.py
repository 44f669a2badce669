"""The app's other processes on Android (``:push``, ``:remote``), held at birth.

Android starts them from zygote, not from the app, so child gating never sees them. Spawn
gating holds every new process on the device: the app's get the agent before they run, every
other process is resumed at once (the whole device stalls otherwise, and frida-server gives
up gating when a held process waits too long). Stopping resumes anything still held, also
after a failure.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from harness.errors import InstrumentationError
from harness.instrument.frida_adapter import SpawnInfo

log = logging.getLogger(__name__)


class SpawnGate(Protocol):
    """What :class:`~harness.instrument.frida_adapter.FridaSpawnGate` offers."""

    def enable(self) -> None: ...
    def disable(self) -> None: ...
    def pending(self) -> list[SpawnInfo]: ...
    def resume(self, pid: int) -> None: ...
    def on_spawn(self, callback: Callable[[SpawnInfo], None]) -> Callable[[], None]: ...


def is_app_process(identifier: str | None, package: str) -> bool:
    """``pkg`` itself or ``pkg:name``. A process declared with another full name
    (``android:process="com.other"``) is not recognised: list it in ``extra``."""
    if not identifier:
        return False
    return identifier == package or identifier.startswith(package + ":")


class AppProcessGate:
    """Instruments the app's processes as zygote starts them; releases the others.

    ``instrument(spawn)`` runs on a thread of its own while the process is held; the gate
    resumes the process afterwards whatever happens (``on_error`` hears about failures).
    """

    def __init__(self, gate: SpawnGate, package: str,
                 instrument: Callable[[SpawnInfo], None], *,
                 on_error: Callable[[SpawnInfo, str], None],
                 extra: frozenset[str] = frozenset()) -> None:
        self.package = package
        self.extra = extra
        """Other process names that belong to the app."""
        self._gate = gate
        self._instrument = instrument
        self._on_error = on_error
        self._stop_listening: Callable[[], None] | None = None
        self._threads: list[threading.Thread] = []
        self._seen: set[int] = set()
        self._lock = threading.Lock()
        self.released: list[SpawnInfo] = []
        """Processes that were not the app's, resumed at once."""

    def ours(self, spawn: SpawnInfo) -> bool:
        return is_app_process(spawn.identifier, self.package) or spawn.identifier in self.extra

    def start(self) -> None:
        """Listen, then gate, then handle what was already held (a signal may predate us)."""
        self._stop_listening = self._gate.on_spawn(self._spawned)
        try:
            self._gate.enable()
            for spawn in self._gate.pending():
                self._spawned(spawn)
        except InstrumentationError:
            self.stop()
            raise

    def _spawned(self, spawn: SpawnInfo) -> None:
        # Called on Frida's thread (must not block) and from start(): hand off to a thread.
        with self._lock:
            if spawn.pid in self._seen:
                return
            self._seen.add(spawn.pid)
            if not self.ours(spawn):
                self.released.append(spawn)
            target = self._handle if self.ours(spawn) else self._release
            thread = threading.Thread(target=target, args=(spawn,), daemon=True,
                                      name=f"spawn-{spawn.pid}")
            self._threads.append(thread)
        thread.start()

    def _release(self, spawn: SpawnInfo) -> None:
        try:
            self._gate.resume(spawn.pid)
        except InstrumentationError as exc:  # it may have died already
            log.warning("could not release spawned pid %s (%s): %s", spawn.pid,
                        spawn.identifier, exc)
        finally:
            self._forget(spawn.pid)

    def _forget(self, pid: int) -> None:
        # Once resumed it is no longer held: the kernel may give its pid to a later process,
        # which must be handled, not ignored (and left held until gating stops).
        with self._lock:
            self._seen.discard(pid)

    def _handle(self, spawn: SpawnInfo) -> None:
        try:
            self._instrument(spawn)
        except Exception as exc:  # noqa: BLE001 - whatever failed, the process must run on
            self._on_error(spawn, f"{type(exc).__name__}: {exc}")
        finally:
            try:
                self._gate.resume(spawn.pid)
            except InstrumentationError as exc:
                self._on_error(spawn, f"could not resume it: {exc}")
            finally:
                self._forget(spawn.pid)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop gating and resume everything still held; safe to call twice or after a
        failed start."""
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None
        # Let the app's processes being instrumented finish first: disabling would resume
        # them half-way through.
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)
        try:
            self._gate.disable()  # frida-server resumes what it holds ...
        except InstrumentationError as exc:
            log.warning("disabling spawn gating failed: %s", exc)
        try:
            left = self._gate.pending()
        except InstrumentationError as exc:
            log.warning("could not list held spawns: %s", exc)
            return
        for spawn in left:  # ... and whatever it did not, we do
            self._release(spawn)
