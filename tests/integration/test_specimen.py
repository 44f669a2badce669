"""The specimen app for real: compiled with javac, run on the JVM through LocalTarget, talking
HTTPS to a real TrackerServer (no proxy: the JVM trusts the tracker's certificate directly)."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.specimen import facts
from harness.specimen.tracker import TrackerServer
from harness.targets.base import AppSpec, SpawnedApp
from harness.targets.local import LocalTarget, specimen_app
from harness.ui.control import ControlChannelDriver
from harness.ui.hierarchy import Node, parse_hierarchy

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("javac") is None or shutil.which("keytool") is None,
                       reason="needs a JDK 17 (javac, keytool)"),
]


@pytest.fixture()
def tracker() -> Iterator[TrackerServer]:
    with TrackerServer() as server:
        yield server


@pytest.fixture()
def target(tmp_path: Path) -> Iterator[LocalTarget]:
    local = LocalTarget(log_dir=tmp_path / "logs")
    yield local
    local.close()


def launch(target: LocalTarget, tracker: TrackerServer, data_dir: Path, *, clear: bool = True,
           variant: str = "default") -> tuple[AppSpec, SpawnedApp, ControlChannelDriver]:
    app = specimen_app(data_dir, variant=variant, tracker_url=tracker.url("/app_logs"))
    target.prepare_without_proxy(app, tracker.cert_pem, clear=clear)
    spawned = target.spawn(app)
    target.resume(spawned)
    return app, spawned, target.ui()


def only(xml: str, **selector: str) -> Node:
    found = parse_hierarchy(xml).find(**selector)
    assert len(found) == 1, f"expected one node for {selector}, found {found}"
    return found[0]


def settled(ui: ControlChannelDriver, timeout: float = 15.0) -> dict[str, Any]:
    """/health once no upload is in flight (the tracker has the request before the app has
    the answer)."""
    deadline = time.monotonic() + timeout
    while (health := ui.health())["uploads"]["pending"] and time.monotonic() < deadline:
        time.sleep(0.05)
    return health


def tap(ui: ControlChannelDriver, **selector: str) -> None:
    x, y = only(ui.dump_hierarchy(), **selector).center
    ui.click(x, y)


def test_gate_holds_the_app_until_resume_then_umeng_reports_the_imei_md5(
        target: LocalTarget, tracker: TrackerServer, tmp_path: Path) -> None:
    app = specimen_app(tmp_path / "data", tracker_url=tracker.url("/app_logs"))
    facts_ = target.prepare_without_proxy(app, tracker.cert_pem)
    assert facts_["package"] == facts.PACKAGE and len(facts_["sha256"]) == 64
    spawned = target.spawn(app)
    ui = target.ui()
    assert ui.health()["state"] == "gated"
    assert ui.foreground_app() == facts.LAUNCHER_PACKAGE
    time.sleep(1.0)  # give a broken gate time to show itself
    assert tracker.requests == []

    target.resume(spawned)
    [request] = tracker.wait_for(lambda reqs: len(reqs) >= 1)
    assert (request.method, request.path) == ("POST", "/app_logs")
    assert json.loads(request.body) == {"header": {
        "os": "Android", "device_id_md5": facts.imei_md5(), "app": facts.PACKAGE}}
    health = settled(ui)
    assert health["state"] == "running" and health["screen"] == "privacy_dialog"
    # Without a proxy the Adjust SDK's app.adjust.com cannot be reached: one failed upload,
    # reported (never silent).
    assert health["uploads"]["ok"] == 1 and health["uploads"]["failed"] == 1
    assert "adjust" in str(health["uploads"]["last_error"]).lower()


def test_agree_goes_home_and_home_key_backgrounds_the_app(
        target: LocalTarget, tracker: TrackerServer, tmp_path: Path) -> None:
    _, spawned, ui = launch(target, tracker, tmp_path / "data")
    dialog = ui.dump_hierarchy()
    assert only(dialog, text="个人信息保护指引").package == facts.PACKAGE
    assert only(dialog, resource_id=f"{facts.PACKAGE}:id/btn_disagree").clickable
    assert only(dialog, text="《隐私政策》").clickable

    x, y = only(dialog, resource_id=f"{facts.PACKAGE}:id/btn_agree").center
    assert ui.click_result(x, y)["hit"]["text"] == "同意"
    assert only(ui.dump_hierarchy(), resource_id=f"{facts.PACKAGE}:id/home_title").text == "Welcome"
    assert ui.click_result(5, 5)["hit"] is None  # empty space hits nothing

    ui.press("home")
    assert ui.foreground_app() == facts.LAUNCHER_PACKAGE
    assert {n.package for n in parse_hierarchy(ui.dump_hierarchy()).nodes()} == {
        facts.LAUNCHER_PACKAGE}
    ui.app_start(facts.PACKAGE)
    assert ui.foreground_app() == facts.PACKAGE
    assert ui.health()["screen"] == "home"

    ui.app_stop(facts.PACKAGE)
    assert not target.is_running(spawned)
    assert target.exit_codes[spawned.pid] == 0


def test_stored_reject_shows_the_dialog_again_and_stored_accept_does_not(
        target: LocalTarget, tracker: TrackerServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    _, first, ui = launch(target, tracker, data)
    tap(ui, text="不同意")
    assert ui.health()["screen"] == "home"
    mode = only(ui.dump_hierarchy(), resource_id=f"{facts.PACKAGE}:id/home_mode")
    assert mode.text == "基础浏览模式"

    ui.app_stop(facts.PACKAGE)
    ui.app_start(facts.PACKAGE)  # a fresh process on the same data dir
    assert ui.health()["pid"] != first.pid
    assert ui.health()["consent"] == "reject"
    tap(ui, text="同意")
    assert ui.health()["screen"] == "home"

    ui.app_stop(facts.PACKAGE)
    ui.app_start(facts.PACKAGE)
    assert ui.health()["screen"] == "home"  # accepted before: no dialog
    assert parse_hierarchy(ui.dump_hierarchy()).find(text="同意") == []

    ui.app_stop(facts.PACKAGE)
    launch(target, tracker, data, clear=True)  # "pm clear": asked again
    assert target.ui().health()["screen"] == "privacy_dialog"


def test_notice_variant_has_a_preticked_box_and_one_button(
        target: LocalTarget, tracker: TrackerServer, tmp_path: Path) -> None:
    _, _, ui = launch(target, tracker, tmp_path / "data", variant="notice")
    screen = ui.dump_hierarchy()
    box = only(screen, text="我已阅读并同意《隐私政策》")
    assert (box.checkable, box.checked, box.class_name) == (True, True, "android.widget.CheckBox")
    assert parse_hierarchy(screen).find(text="同意") == []
    buttons = [n for n in parse_hierarchy(screen).nodes() if n.class_name.endswith("Button")]
    assert [b.text for b in buttons] == ["我知道了"]
    tap(ui, text="我知道了")
    assert ui.health()["screen"] == "home" and ui.health()["consent"] == "accept"


def test_screenshot_is_a_valid_png(
        target: LocalTarget, tracker: TrackerServer, tmp_path: Path) -> None:
    _, _, ui = launch(target, tracker, tmp_path / "data")
    png = ui.screenshot()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    chunks = []
    pos = 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos:pos + 4])
        kind, data = png[pos + 4:pos + 8], png[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + data) == crc
        chunks.append((kind, data))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height = struct.unpack(">II", chunks[0][1][:8])
    assert (width, height) == (360, 780)
    pixels = zlib.decompress(b"".join(d for k, d in chunks if k == b"IDAT"))
    assert len(set(pixels)) > 3  # something was drawn, not a blank image


class ConnectRelay:
    """A minimal CONNECT proxy that sends every tunnel to the tracker (as the real proxy's
    resolve map does) and records the CONNECT targets: proves the JVM uses the proxy and
    never resolves the tracker's name itself."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.targets: list[str] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                client.close()
                return
            head += chunk
        self.targets.append(head.split(b"\r\n")[0].decode())
        upstream = socket.create_connection(self.upstream)
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        for src, dst in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()


def test_prepare_routes_the_real_tracker_host_through_the_proxy(
        target: LocalTarget, tracker: TrackerServer, tmp_path: Path) -> None:
    relay = ConnectRelay(tracker.address)
    try:
        app = specimen_app(tmp_path / "data")  # the default https://alog.umeng.com/app_logs
        # The tracker's self-signed certificate plays the proxy CA.
        target.prepare(app, target.app_proxy(relay.port, tracker.cert_pem))
        target.resume(target.spawn(app))
        requests = tracker.wait_for(lambda reqs: len(reqs) >= 2)
        [request] = [r for r in requests if r.headers["Host"] == "alog.umeng.com"]
        assert json.loads(request.body)["header"]["device_id_md5"] == facts.imei_md5()
        assert sorted(relay.targets) == ["CONNECT alog.umeng.com:443 HTTP/1.1",
                                         "CONNECT app.adjust.com:443 HTTP/1.1"]
        assert settled(target.ui())["uploads"]["ok"] == 2
    finally:
        relay.close()


def test_bad_requests_get_clear_errors(
        target: LocalTarget, tracker: TrackerServer, tmp_path: Path) -> None:
    _, _, ui = launch(target, tracker, tmp_path / "data")
    status, body = ui.request("POST", "/click?x=abc&y=1")
    assert status == 400 and "x must be an integer" in json.loads(body)["error"]
    status, body = ui.request("POST", "/resume")
    assert status == 409 and "already resumed" in json.loads(body)["error"]
    status, _ = ui.request("GET", "/nope")
    assert status == 404
