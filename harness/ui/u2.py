"""``Uiautomator2Driver``: :class:`~harness.ui.base.UiDriver` on a real device.

The only module that imports uiautomator2. The connection (which installs and starts the
uiautomator2 server on the device the first time) is made on first use; every uiautomator2
or adb error becomes :class:`harness.errors.UiError` with what to check.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from typing import Any

import uiautomator2

from harness.device.adb import ADB_ERRORS, lost_message
from harness.errors import DeviceLost, UiError
from harness.ui.base import KEYS

#: Why the device is gone, or None (``DeviceShell.confirm_lost``: asked after a failure).
LostReason = Callable[[], "str | None"]


@contextlib.contextmanager
def map_u2_errors(serial: str, doing: str,
                  lost_reason: LostReason | None = None) -> Iterator[None]:
    try:
        yield
    except (UiError, DeviceLost):
        raise
    except (uiautomator2.exceptions.BaseException, *ADB_ERRORS, OSError) as exc:
        # uiautomator2 words a vanished device many ways (ConnectError, HTTPError, adb's
        # "device not found", a reset socket): ask adb instead of parsing them.
        gone = lost_reason() if lost_reason is not None else None
        if gone is not None:
            raise DeviceLost(f"{lost_message(serial, gone)}; uiautomator2 could not {doing}: "
                             f"{type(exc).__name__}: {exc}", serial=serial, cause=gone) from exc
        raise UiError(
            f"uiautomator2 could not {doing} on {serial}: {type(exc).__name__}: {exc}. "
            "Check the screen is on and unlocked, and that `python -m uiautomator2 init` "
            "succeeds for this device"
        ) from exc


class Uiautomator2Driver:
    def __init__(self, serial: str, *, lost_reason: LostReason | None = None) -> None:
        self.serial = serial
        self._d: Any = None
        self._lost_reason = lost_reason

    def _mapped(self, doing: str) -> contextlib.AbstractContextManager[None]:
        return map_u2_errors(self.serial, doing, self._lost_reason)

    @property
    def device(self) -> Any:
        """The ``uiautomator2.Device``, connected on first use."""
        if self._d is None:
            with self._mapped("connect"):
                self._d = uiautomator2.connect(self.serial)
        return self._d

    def dump_hierarchy(self) -> str:
        with self._mapped("dump the window hierarchy"):
            xml: str = self.device.dump_hierarchy(compressed=False)
        if not xml.strip():
            raise UiError(f"uiautomator2 returned an empty hierarchy on {self.serial}: "
                          "the screen may be off or a secure window is shown")
        return xml

    def click(self, x: int, y: int) -> None:
        with self._mapped(f"tap ({x}, {y})"):
            self.device.click(x, y)

    def press(self, key: str) -> None:
        if key not in KEYS:
            raise UiError(f"unknown key {key!r}: use one of {', '.join(sorted(KEYS))}")
        with self._mapped(f"press {key}"):
            self.device.press(key)

    def screenshot(self) -> bytes:
        with self._mapped("take a screenshot"):
            image = self.device.screenshot(format="pillow")
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
        return buffer.getvalue()

    def app_start(self, package: str) -> None:
        with self._mapped(f"start {package}"):
            self.device.app_start(package)

    def app_stop(self, package: str) -> None:
        with self._mapped(f"stop {package}"):
            self.device.app_stop(package)

    def set_clipboard(self, text: str) -> None:
        # The uiautomator2 server's instrumentation may write the clipboard, which the shell
        # cannot on most builds (harness.device.canaries).
        with self._mapped("set the clipboard"):
            self.device.set_clipboard(text)

    def get_clipboard(self) -> str | None:
        with self._mapped("read the clipboard"):
            text = self.device.clipboard
        return None if text is None else str(text)

    def foreground_app(self) -> str | None:
        try:
            current = self.device.app_current()
        except (UiError, uiautomator2.exceptions.BaseException, *ADB_ERRORS, OSError):
            return None  # "unknown" is a valid answer here (e.g. lock screen, transitions)
        package = current.get("package") if isinstance(current, dict) else None
        return package or None
