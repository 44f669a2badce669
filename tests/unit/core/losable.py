"""The device-loss surface of AndroidTarget (harness.session.LosableTarget) as a stand-in:
set ``gone`` to adb's words and the device is lost. Shared by the session's unit tests and
the local-target integration test."""

from __future__ import annotations

GONE = "adb: device 'emulator-5554' not found"


class LosableStandIn:
    def __init__(self) -> None:
        self.gone: str | None = None
        self.probes = 0
        self.marked: str | None = None

    def vanish(self) -> None:
        self.gone = GONE

    def device_lost(self, *, confirm: bool = False) -> str | None:
        self.probes += 1
        return self.gone

    def device_back(self) -> bool:
        return self.gone is None

    def mark_lost(self, reason: str) -> None:
        self.marked = reason

    def leftovers(self) -> list[dict[str, str]]:
        return []
