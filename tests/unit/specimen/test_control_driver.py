"""ControlChannelDriver's glue against a minimal stdlib server speaking the protocol."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.errors import UiError
from harness.ui.base import UiDriver
from harness.ui.control import ControlChannelDriver

SEEN: list[tuple[str, str]] = []


class Handler(BaseHTTPRequestHandler):
    def _reply(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        SEEN.append(("GET", self.path))
        if self.path == "/foreground":
            self._reply(200, b'{"package":"org.consentry.specimen"}')
        elif self.path == "/screenshot":
            self._reply(200, b"GIF89a", "image/gif")
        else:
            self._reply(200, b"<hierarchy/>", "application/xml")

    def do_POST(self) -> None:  # noqa: N802
        SEEN.append(("POST", self.path))
        if self.path.startswith("/click"):
            self._reply(200, b'{"hit":null,"screen":"home"}')
        else:
            self._reply(409, json.dumps({"error": "the app is gated; POST /resume first"}).encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def driver() -> Iterator[ControlChannelDriver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    SEEN.clear()
    yield ControlChannelDriver(f"127.0.0.1:{server.server_address[1]}", timeout=5)
    server.shutdown()
    server.server_close()


def test_is_a_ui_driver(driver: ControlChannelDriver) -> None:
    assert isinstance(driver, UiDriver)


def test_calls_map_to_endpoints(driver: ControlChannelDriver) -> None:
    assert driver.dump_hierarchy() == "<hierarchy/>"
    assert driver.click_result(10, 20) == {"hit": None, "screen": "home"}
    assert driver.foreground_app() == "org.consentry.specimen"
    assert SEEN == [("GET", "/dump"), ("POST", "/click?x=10&y=20"), ("GET", "/foreground")]


def test_errors_carry_the_apps_reason(driver: ControlChannelDriver) -> None:
    with pytest.raises(UiError, match=r"HTTP 409.*POST /resume first"):
        driver.app_start("org.consentry.specimen")
    with pytest.raises(UiError, match="not return a PNG"):
        driver.screenshot()
    with pytest.raises(UiError, match="unknown key 'volume_up'"):
        driver.press("volume_up")
    assert ("POST", "/press?key=volume_up") not in SEEN


def test_launch_hook_replaces_start(driver: ControlChannelDriver) -> None:
    launched: list[str] = []

    def launch(package: str) -> bool:
        launched.append(package)
        return True

    hooked = ControlChannelDriver(driver.address, launch=launch)
    hooked.app_start("org.consentry.specimen")
    assert launched == ["org.consentry.specimen"] and SEEN == []


def test_unreachable_channel_is_a_ui_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(UiError, match="did not answer GET /health"):
        ControlChannelDriver(f"127.0.0.1:{port}", timeout=2).health()
