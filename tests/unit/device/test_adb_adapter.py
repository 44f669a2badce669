"""AdbutilsDevice through the real adbutils client, over real loopback TCP, against a small
server speaking the adb server's smart-socket protocol (``OKAY``/``FAIL`` + hex length)."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import adbutils._adb
import pytest

from harness.device import adb
from harness.device.adb import AdbutilsDevice, attached_serials
from harness.errors import (
    AmbiguousDevice,
    DeviceError,
    DeviceLost,
    DeviceNotFound,
    InstallFailed,
)

EXIT_SUFFIX = "; echo X4EXIT:$?"  # what adbutils appends to read the exit status


def block(text: str) -> bytes:
    data = text.encode()
    return f"{len(data):04x}".encode() + data


class AdbProtocolServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.devices: dict[str, str] = {}
        self.shell: dict[str, tuple[str, int]] = {}
        self.reverses: set[str] = set()
        self.requests: list[str] = []
        self.unplug_on: str | None = None
        """A shell command during which the device goes away (the stream just ends)."""
        self.hung = False
        """The device froze: still listed as ``device``, but shell commands never answer."""
        self.slow_states = 0
        """How many ``get-state`` requests to leave unanswered (a busy adb server)."""
        self.release = threading.Event()


class Handler(socketserver.BaseRequestHandler):
    server: AdbProtocolServer

    def read_request(self) -> str | None:
        head = self.request.recv(4, socket.MSG_WAITALL)
        if len(head) < 4:
            return None
        size = int(head, 16)
        return bytes(self.request.recv(size, socket.MSG_WAITALL)).decode() if size else ""

    def fail(self, message: str) -> None:
        self.request.sendall(b"FAIL" + block(message))

    def handle(self) -> None:
        srv = self.server
        while (req := self.read_request()) is not None:
            srv.requests.append(req)
            if req == "host:version":
                self.request.sendall(b"OKAY" + block("0029"))
                return
            if req in ("host:devices", "host:devices-l"):
                lines = "".join(f"{s}\t{state}\n" for s, state in srv.devices.items())
                self.request.sendall(b"OKAY" + block(lines))
                return
            if req.startswith("host-serial:"):
                serial, _, sub = req[len("host-serial:"):].rpartition(":")
                if serial not in srv.devices:
                    return self.fail(f"device '{serial}' not found")
                if sub == "get-state" and srv.slow_states > 0:
                    srv.slow_states -= 1
                    srv.release.wait(10)
                    return
                self.request.sendall(b"OKAY" + block(srv.devices[serial]))
                return
            if req.startswith("host:tport:serial:"):
                serial = req[len("host:tport:serial:"):]
                if srv.devices.get(serial) != "device":
                    return self.fail(f"device '{serial}' not found")
                self.request.sendall(b"OKAY" + (1).to_bytes(8, "little"))
                continue
            if req.startswith("shell:"):
                command = req[len("shell:"):].removesuffix(EXIT_SUFFIX)
                if srv.hung:
                    srv.release.wait(10)
                    return
                if req == "shell:echo ok":
                    self.request.sendall(b"OKAY" + b"ok\n")
                    return
                if command == srv.unplug_on:
                    srv.devices.clear()
                    self.request.sendall(b"OKAY" + b"partial outp")
                    return
                output, code = srv.shell.get(command, (f"/system/bin/sh: {command}: not found\n",
                                                       127))
                self.request.sendall(b"OKAY" + f"{output}X4EXIT:{code}\n".encode())
                return
            if req.startswith("reverse:forward:"):
                srv.reverses.add(req[len("reverse:forward:"):].split(";")[0])
                self.request.sendall(b"OKAYOKAY")
                return
            if req == "reverse:list-forward":
                lines = "".join(f"host-19 {r} {r}\n" for r in sorted(srv.reverses))
                self.request.sendall(b"OKAY" + block(lines))
                return
            if req.startswith("reverse:killforward:"):
                remote = req[len("reverse:killforward:"):]
                if remote not in srv.reverses:
                    self.request.sendall(b"OKAY")
                    return self.fail(f"listener '{remote}' not found")
                srv.reverses.discard(remote)
                self.request.sendall(b"OKAYOKAY")
                return
            return self.fail(f"unknown request {req}")


@pytest.fixture
def adb_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[AdbProtocolServer]:
    server = AdbProtocolServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(server.server_address[1]))
    monkeypatch.delenv("ANDROID_SERIAL", raising=False)
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_shell_output_and_exit_code(adb_server: AdbProtocolServer) -> None:
    adb_server.devices = {"emulator-5554": "device"}
    adb_server.shell = {"getprop ro.build.version.sdk": ("34\n", 0),
                        "pidof com.example.shop": ("", 1)}
    device = AdbutilsDevice("emulator-5554")
    result = device.shell("getprop ro.build.version.sdk")
    assert (result.exit_code, result.output) == (0, "34\n")
    assert device.shell("pidof com.example.shop").exit_code == 1
    assert "shell:getprop ro.build.version.sdk" + EXIT_SUFFIX in adb_server.requests


def test_picks_the_only_device_or_says_what_to_do(adb_server: AdbProtocolServer) -> None:
    adb_server.devices = {"R58M123": "unauthorized", "emulator-5554": "device"}
    assert attached_serials() == ["emulator-5554"]
    assert AdbutilsDevice().serial == "emulator-5554"
    adb_server.devices["192.168.1.20:5555"] = "device"
    with pytest.raises(AmbiguousDevice, match="pass --serial, set ANDROID_SERIAL"):
        AdbutilsDevice()
    adb_server.devices = {}
    with pytest.raises(DeviceNotFound, match="No Android device attached"):
        AdbutilsDevice()


def test_android_serial_env_is_used(adb_server: AdbProtocolServer,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    adb_server.devices = {"a": "device", "b": "device"}
    monkeypatch.setenv("ANDROID_SERIAL", "b")
    assert AdbutilsDevice().serial == "b"


def test_unknown_or_unready_serial(adb_server: AdbProtocolServer) -> None:
    adb_server.devices = {"R58M123": "unauthorized"}
    with pytest.raises(DeviceNotFound, match="'nope' is not available.*adb devices"):
        AdbutilsDevice("nope")
    with pytest.raises(DeviceNotFound, match="accept the USB debugging prompt"):
        AdbutilsDevice("R58M123")


def test_reverse_and_its_errors(adb_server: AdbProtocolServer) -> None:
    adb_server.devices = {"emulator-5554": "device"}
    device = AdbutilsDevice("emulator-5554")
    device.reverse("tcp:8080", "tcp:8080")
    assert adb_server.reverses == {"tcp:8080"}
    assert device.reverse_list() == ["tcp:8080"]
    device.reverse_remove("tcp:8080")
    assert adb_server.reverses == set() and device.reverse_list() == []
    # Already gone (an adb server restart drops every reverse) counts as removed.
    device.reverse_remove("tcp:9999")
    assert "reverse:killforward:tcp:9999" in adb_server.requests


def test_device_gone_mid_run_is_device_lost(adb_server: AdbProtocolServer) -> None:
    adb_server.devices = {"emulator-5554": "device"}
    device = AdbutilsDevice("emulator-5554")
    assert device.lost_reason() is None
    adb_server.devices = {}
    with pytest.raises(DeviceLost, match="`true` failed on emulator-5554") as lost:
        device.shell("true")
    assert lost.value.serial == "emulator-5554"
    assert lost.value.cause == "adb: device 'emulator-5554' not found"
    assert "unplugged, the emulator stopped, or the adb server restarted" in str(lost.value)
    with pytest.raises(DeviceLost):
        device.reverse_remove("tcp:8080")


def test_device_unplugged_during_a_command_is_device_lost(adb_server: AdbProtocolServer) -> None:
    adb_server.devices = {"emulator-5554": "device"}
    adb_server.unplug_on = "dumpsys connectivity"
    device = AdbutilsDevice("emulator-5554")
    with pytest.raises(DeviceLost, match="dumpsys connectivity"):
        device.shell("dumpsys connectivity")


def test_an_offline_device_is_lost_a_failing_command_on_a_live_one_is_not(
        adb_server: AdbProtocolServer) -> None:
    adb_server.devices = {"emulator-5554": "device"}
    device = AdbutilsDevice("emulator-5554")
    with pytest.raises(DeviceError) as failed:
        device.forward("tcp:1", "tcp:2")  # adb says no (unknown request), the device is fine
    assert not isinstance(failed.value, DeviceLost)
    adb_server.devices["emulator-5554"] = "offline"
    assert device.lost_reason() == "adb reports it 'offline'"


def test_install_of_a_missing_apk_is_install_failed(adb_server: AdbProtocolServer,
                                                    tmp_path: Path) -> None:
    adb_server.devices = {"emulator-5554": "device"}
    with pytest.raises(InstallFailed, match="APK file not found"):
        AdbutilsDevice("emulator-5554").install(tmp_path / "missing.apk")


def test_a_hung_device_is_lost_though_adb_still_lists_it(
        adb_server: AdbProtocolServer, monkeypatch: pytest.MonkeyPatch) -> None:
    adb_server.devices = {"emulator-5554": "device"}
    device = AdbutilsDevice("emulator-5554")
    monkeypatch.setattr(adb, "PROBE_TIMEOUT", 0.3)
    assert device.confirm_lost() is None  # `echo ok` answered
    adb_server.hung = True  # frozen emulator / stuck adbd: get-state still says "device"
    assert device.lost_reason() is None  # the cheap check cannot see it...
    started = time.monotonic()
    with pytest.raises(DeviceLost) as lost:
        device.shell("dumpsys activity", timeout=0.5)
    assert lost.value.cause is not None and lost.value.cause.startswith(
        "listed by adb but it did not answer `echo ok` within 0.3s: hung")
    assert time.monotonic() - started < 3
    assert "shell:echo ok" in adb_server.requests  # ...the round trip does


def test_one_slow_answer_is_not_a_lost_device_two_in_a_row_are(
        adb_server: AdbProtocolServer, monkeypatch: pytest.MonkeyPatch) -> None:
    adb_server.devices = {"emulator-5554": "device"}
    device = AdbutilsDevice("emulator-5554")
    monkeypatch.setattr(adb, "PROBE_TIMEOUT", 0.2)
    adb_server.slow_states = 1
    assert device.lost_reason() is None  # slow once: asked again next time
    assert device.lost_reason() is None  # answered: the count starts over
    adb_server.slow_states = 2
    assert device.lost_reason() is None
    assert device.lost_reason() == "adb did not answer about it within 0.2s, 2 times in a row"
    adb_server.devices = {}
    assert device.lost_reason() == "adb: device 'emulator-5554' not found"  # definite: at once


def test_the_check_neither_waits_for_nor_starts_a_missing_adb_server(
        adb_server: AdbProtocolServer, monkeypatch: pytest.MonkeyPatch) -> None:
    adb_server.devices = {"emulator-5554": "device"}
    device = AdbutilsDevice("emulator-5554")
    port = adb_server.server_address[1]
    adb_server.shutdown()
    adb_server.server_close()  # connections to the port are now refused
    started: list[object] = []

    def no_start(*args: object, **kwargs: object) -> None:
        started.append(args)
        raise AssertionError("adb start-server must not run")

    monkeypatch.setattr(adbutils._adb.subprocess, "run", no_start)
    begin = time.monotonic()
    reason = device.lost_reason()
    assert reason is not None and reason.startswith(f"adb server not running at 127.0.0.1:{port}")
    assert device.confirm_lost() == reason
    assert started == [] and time.monotonic() - begin < 2
