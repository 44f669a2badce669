"""``UiDriver`` over the specimen's control channel (HTTP on 127.0.0.1).

The specimen answers a click only after the app's reaction to it (SDK reads included) ran, so
no settle wait is needed; ``settle`` exists for slower programs speaking the same protocol.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from typing import Any

from harness.errors import UiError
from harness.ui.base import KEYS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class ControlChannelDriver:
    """Drives one app through ``GET /dump``, ``POST /click`` and friends.

    ``address`` is ``"127.0.0.1:PORT"`` or a callable returning it (the local target's current
    process). ``launch(package)`` may start a fresh process when none runs and returns whether
    it did; ``stop(package)`` replaces ``POST /stop`` (the target also waits for the exit).
    """

    def __init__(self, address: str | Callable[[], str], *, timeout: float = 30.0,
                 settle: float = 0.0, launch: Callable[[str], bool] | None = None,
                 stop: Callable[[str], None] | None = None) -> None:
        self._address = address
        self._timeout = timeout
        self._settle = settle
        self._launch = launch
        self._stop = stop

    @property
    def address(self) -> str:
        return self._address() if callable(self._address) else self._address

    def request(self, method: str, path: str) -> tuple[int, bytes]:
        """One call to the control channel: (status, body). UiError when it cannot be reached."""
        address = self.address
        host, _, port = address.rpartition(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=self._timeout)
        try:
            conn.request(method, path)
            response = conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise UiError(
                f"the app's control channel at {address} did not answer {method} {path}: "
                f"{exc}; is the app still running? (see its log in the run directory)"
            ) from exc
        finally:
            conn.close()

    def _ok(self, method: str, path: str) -> bytes:
        status, body = self.request(method, path)
        if status != 200:
            try:
                reason = json.loads(body)["error"]
            except (ValueError, KeyError, TypeError):
                reason = body[:300].decode("utf-8", "replace")
            raise UiError(f"control channel {method} {path} failed (HTTP {status}): {reason}")
        return body

    def _json(self, method: str, path: str) -> dict[str, Any]:
        value = json.loads(self._ok(method, path))
        if not isinstance(value, dict):
            raise UiError(f"control channel {method} {path} answered {value!r}, not an object")
        return value

    def health(self) -> dict[str, Any]:
        """State of the app: ``state`` (gated/running), ``screen``, ``foreground``, uploads."""
        return self._json("GET", "/health")

    def resume(self) -> dict[str, Any]:
        """Open the gate: the app starts."""
        return self._json("POST", "/resume")

    def dump_hierarchy(self) -> str:
        return self._ok("GET", "/dump").decode("utf-8")

    def click(self, x: int, y: int) -> None:
        self.click_result(x, y)

    def click_result(self, x: int, y: int) -> dict[str, Any]:
        """Tap (x, y); the answer says which node was hit (``hit`` is None for empty space)."""
        result = self._json("POST", f"/click?x={int(x)}&y={int(y)}")
        self._wait_settle()
        return result

    def press(self, key: str) -> None:
        if key not in KEYS:
            raise UiError(f"unknown key {key!r}; expected one of {', '.join(sorted(KEYS))}")
        self._json("POST", f"/press?key={key}")
        self._wait_settle()

    def screenshot(self) -> bytes:
        data = self._ok("GET", "/screenshot")
        if not data.startswith(PNG_MAGIC):
            raise UiError("the control channel's /screenshot did not return a PNG")
        return data

    def app_start(self, package: str) -> None:
        if self._launch is not None and self._launch(package):
            return
        self._json("POST", "/start")
        self._wait_settle()

    def app_stop(self, package: str) -> None:
        if self._stop is not None:
            self._stop(package)
        else:
            self._json("POST", "/stop")

    def foreground_app(self) -> str | None:
        value = self._json("GET", "/foreground").get("package")
        return value if isinstance(value, str) else None

    def _wait_settle(self) -> None:
        if self._settle > 0:
            time.sleep(self._settle)
