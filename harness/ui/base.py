"""The ``UiDriver`` protocol every target provides (uiautomator2 on Android, the specimen's
control channel on the local target)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

#: Key names understood by every driver (uiautomator2 ``press`` names).
KEYS = frozenset({"back", "home", "enter", "menu", "recent"})


@runtime_checkable
class UiDriver(Protocol):
    def dump_hierarchy(self) -> str:
        """The current window hierarchy as uiautomator XML (``<hierarchy rotation=..>``)."""
        ...

    def click(self, x: int, y: int) -> None:
        """Tap the screen at (x, y)."""
        ...

    def press(self, key: str) -> None:
        """Press one of :data:`KEYS`."""
        ...

    def screenshot(self) -> bytes:
        """A PNG of the screen."""
        ...

    def app_start(self, package: str) -> None:
        """Bring the app to the foreground (launching it if needed)."""
        ...

    def app_stop(self, package: str) -> None:
        """Force-stop the app."""
        ...

    def foreground_app(self) -> str | None:
        """Package name of the app in the foreground, or None when unknown."""
        ...
