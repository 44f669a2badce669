"""AndroidTarget in WireGuard capture mode against a scripted device that keeps the WireGuard
app's state (its private files, VPN consent, tunnel) the way the real app and platform would:
the tunnel only comes up when the config, the remote-control preference and the consent are
all in place, and close() must leave every piece as it was found."""

from __future__ import annotations

import argparse
import base64
import importlib.util
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.commands.run import capture_usage_error
from harness.device import wireguard as wg
from harness.device.shell import ShellResult
from harness.errors import ConfigError, DeviceError, DeviceLost
from harness.session import wireguard_target
from harness.targets.android import AndroidTarget
from harness.targets.base import AppSpec, WireGuardEndpoint, WireGuardTarget
from harness.targets.local import LocalTarget
from tests.unit.certs import make_ca

_TESTS = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("fakeshell", _TESTS / "unit/device/fakeshell.py")
assert _spec is not None and _spec.loader is not None
fakeshell = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fakeshell)

DATA = _TESTS / "data" / "android"
PKG = "com.example.shop"
CA_SETUP = r"^(rm -rf /data/local/tmp/consentry-ca|mkdir|cp |mount|chown|chmod 644|chcon|for z|umount|test -f|nsenter)"
KEY = base64.b64encode(bytes(range(32))).decode()
CLIENT_CONF = (f"[Interface]\nPrivateKey = {KEY}\nAddress = 10.0.0.1/32\nDNS = 10.0.0.53\n\n"
               f"[Peer]\nPublicKey = {KEY}\nAllowedIPs = 0.0.0.0/0\nEndpoint = 10.0.2.2:51820\n")
CONNECTED = (DATA / "wireguard_dumpsys_connectivity_api34.txt").read_text()
NOT_CONNECTED = (DATA / "wireguard_dumpsys_connectivity_connecting.txt").read_text()
APP_DIR = wg.data_dir()
# DataStore bytes: {dark_theme: true}
EXISTING_PREFS = b"\x0a\x10\x0a\x0adark_theme\x12\x02\x08\x01"


class WireGuardDevice(fakeshell.FakeShell):  # type: ignore[name-defined,misc]
    """FakeShell plus the WireGuard app's private files, app-ops and tunnel state."""

    def __init__(self, *, prefs: bytes | None = EXISTING_PREFS, installed: bool = True,
                 root: str | None = "adbd", refuse_tunnel: bool = False,
                 serial: str = "emulator-5554") -> None:
        super().__init__(serial)
        self.app_files: dict[str, bytes] = {} if prefs is None else {wg.datastore_path(): prefs}
        self.appops: str | None = None
        self.tunnel = False
        self.refuse_tunnel = refuse_tunnel
        self.root_mode = root
        self.exists_check: Callable[[str], ShellResult] | None = None
        self.on("^getprop$", (DATA / "getprop_multiline.txt").read_text())
        self.on(r"^id -u$", "0\n" if root == "adbd" else "2000\n")
        self.on(r"^su 0 sh -c 'id -u'$", "0\n" if root == "su" else "su: not found",
                exit_code=0 if root == "su" else 127)
        self.on(f"^pm path {PKG}$", (DATA / "pm_path_split.txt").read_text())
        self.on(f"^pm path {wg.PACKAGE}$",
                "package:/data/app/~~Qx==/com.wireguard.android-2/base.apk\n" if installed else "")
        self.on(f"^pm clear {PKG}$", "Success\n")
        self.on(f"^dumpsys package {PKG}$", (DATA / "dumpsys_package_example.txt").read_text())
        self.on("^sha256sum ", "ab" * 32 + "  /data/app/x/base.apk\n")
        self.on(r"^test -e /apex/com.android.conscrypt/cacerts/", exit_code=1)
        self.on(CA_SETUP)
        self.on("^rm -f /data/local/tmp/")  # the CA installer's temporary copy
        self.on("^test -e /data/local/tmp/frida-server$")
        self.on("--version$", "17.2.6\n")
        self.on("^pidof frida-server$", "4821\n")
        self.on(f"^stat -c %u:%g {APP_DIR}$", "10149:10149\n")
        self.on(f"^ls -dZ {APP_DIR}$", (DATA / "wireguard_ls_dZ.txt").read_text())
        self.on("^cmd deviceidle tempwhitelist ", "Added: com.wireguard.android\n")
        self.on(r"^logcat -d", (DATA / "wireguard_logcat.txt").read_text())

    def shell(self, command: str, *, timeout: float = 60.0) -> ShellResult:
        self._check_there(f"`{command}`")  # an unplugged device answers nothing
        inner = command
        if command.startswith("su 0 sh -c ") and command != "su 0 sh -c 'id -u'":
            if self.root_mode != "su":
                return ShellResult(command, 127, "su: not found")
            inner = shlex.split(command)[4]
        handled = self._app_state(inner)
        if handled is None:  # scripted rules see the command as root runs it
            result = super().shell(inner, timeout=timeout)
            self.log[-1] = command
            return ShellResult(command, result.exit_code, result.output)
        self.log.append(command)
        return handled

    def _app_state(self, command: str) -> ShellResult | None:  # noqa: C901 - one emulator
        argv = shlex.split(command)
        if argv[:3] == ["am", "force-stop", wg.PACKAGE]:
            self.tunnel = False  # the VpnService dies with the process
            return ShellResult(command, 0, "")
        if argv[:3] == ["if", "test", "-e"] and argv[3].startswith(APP_DIR):
            if self.exists_check is not None:  # the check itself fails
                return self.exists_check(command)
            present = argv[3].rstrip(";") in self.app_files
            return ShellResult(command, 0, wg.PRESENT if present else wg.ABSENT)
        if argv[:2] == ["cp", wg.datastore_path()] or (argv[:1] == ["cp"] and
                                                        argv[2].startswith(APP_DIR)):
            source, dest = argv[1], argv[2]
            if source.startswith(APP_DIR):
                self.files[dest] = self.app_files[source]
            else:
                self.app_files[dest] = self.files[source]
            return ShellResult(command, 0, "")
        if argv[:2] == ["rm", "-f"] and all(p.startswith(APP_DIR) for p in argv[2:]):
            for path in argv[2:]:
                self.app_files.pop(path, None)
            return ShellResult(command, 0, "")
        if argv == ["rm", "-rf", wg.STAGING]:
            for path in [p for p in self.files if p.startswith(wg.STAGING)]:
                del self.files[path]
            return ShellResult(command, 0, "")
        if argv[:2] == ["mkdir", "-p"]:
            return ShellResult(command, 0, "")
        if argv[:2] == ["appops", "get"]:
            return ShellResult(command, 0, f"ACTIVATE_VPN: {self.appops}; time=+1s ago\n"
                               if self.appops else "No operations.\nDefault mode: ignore\n")
        if argv[:2] == ["appops", "set"]:
            self.appops = None if argv[4] == "default" else argv[4]
            return ShellResult(command, 0, "")
        if argv[:2] == ["am", "broadcast"]:
            return self._broadcast(command, argv)
        if argv == ["dumpsys", "connectivity"]:
            return ShellResult(command, 0, CONNECTED if self.tunnel else NOT_CONNECTED)
        return None

    def _broadcast(self, command: str, argv: list[str]) -> ShellResult:
        if self.root_mode is None:
            raise AssertionError("the broadcast needs root (CONTROL_TUNNELS permission)")
        prefs = wg.preference_keys(self.app_files.get(wg.datastore_path(), b""))
        remote = wg.boolean_value(prefs.get(wg.REMOTE_CONTROL_KEY, b"")) is True
        action = argv[argv.index("-a") + 1]
        if remote and action == wg.ACTION_UP:
            self.tunnel = (wg.config_path() in self.app_files and self.appops == "allow"
                           and not self.refuse_tunnel)
        elif remote and action == wg.ACTION_DOWN:
            self.tunnel = False
        return ShellResult(command, 0, (DATA / "wireguard_am_broadcast.txt").read_text())

    def state(self) -> dict[str, Any]:
        return {"files": dict(self.app_files), "appops": self.appops, "tunnel": self.tunnel,
                "settings": dict(self.settings), "reverses": set(self.reverses),
                "staged": sorted(p for p in self.files if p.startswith(wg.STAGING))}


@pytest.fixture
def endpoint(tmp_path: Path) -> WireGuardEndpoint:
    pem = tmp_path / "mitmproxy-ca-cert.pem"
    pem.write_bytes(make_ca())
    conf = tmp_path / "wireguard-client.conf"
    conf.write_text(CLIENT_CONF)
    return WireGuardEndpoint(host="10.0.2.2", port=51820, client_config=CLIENT_CONF,
                             config_file=conf, ca_pem=pem)


def target(fake: WireGuardDevice, **kwargs: Any) -> AndroidTarget:
    return AndroidTarget(device=fake, host_frida_version="17.2.6", tunnel_timeout=0.3, **kwargs)


def index(log: list[str], prefix: str) -> int:
    return next(i for i, entry in enumerate(log) if entry.startswith(prefix))


# --- the happy path ----------------------------------------------------------------------------

@pytest.mark.parametrize("prefs", [EXISTING_PREFS, None], ids=["prefs", "fresh-app"])
def test_tunnel_is_set_up_then_everything_is_undone(endpoint: WireGuardEndpoint,
                                                    prefs: bytes | None) -> None:
    fake = WireGuardDevice(prefs=prefs)
    before = fake.state()
    t = target(fake)
    facts = t.prepare_wireguard(AppSpec(package=PKG), endpoint)

    assert facts["wireguard"] == {"managed": True, "tunnel": "consentry", "interface": "tun0",
                                  "session": "consentry", "endpoint": "10.0.2.2:51820"}
    assert facts["ca"]["trusted"] is True and facts["version_code"] == 40217
    assert fake.tunnel is True and fake.appops == "allow"
    assert fake.app_files[wg.config_path()] == CLIENT_CONF.encode()
    prefs_now = wg.preference_keys(fake.app_files[wg.datastore_path()])
    assert wg.boolean_value(prefs_now[wg.REMOTE_CONTROL_KEY]) is True
    if prefs is not None:
        assert wg.boolean_value(prefs_now["dark_theme"]) is True  # the user's settings kept
    # no proxy in this mode, and the private key does not linger in /data/local/tmp
    assert fake.settings == {} and fake.reverses == set()
    assert not any("http_proxy" in c or c.startswith("reverse") for c in fake.log)
    assert fake.state()["staged"] == []
    log = fake.log
    assert index(log, f"am force-stop {wg.PACKAGE}") < index(log, "cp /data/local/tmp")
    assert index(log, "appops set") < index(log, "cmd deviceidle") < index(log, "am broadcast")
    assert fake.unscripted == []

    fake.log.clear()
    t.close()
    assert fake.state() == before
    log = fake.log
    down = next(i for i, c in enumerate(log) if wg.ACTION_DOWN in c)
    assert down < index(log, f"am force-stop {wg.PACKAGE}") < index(log, f"rm -f {APP_DIR}")
    assert fake.unscripted == []


def test_works_through_su_too(endpoint: WireGuardEndpoint) -> None:
    fake = WireGuardDevice(root="su")
    before = fake.state()
    t = target(fake)
    facts = t.prepare_wireguard(AppSpec(package=PKG), endpoint, clear=False)
    assert facts["wireguard"]["managed"] is True and fake.tunnel
    assert any(c.startswith("su 0 sh -c 'am broadcast") for c in fake.log)
    t.close()
    assert fake.state() == before


# --- what the user must fix --------------------------------------------------------------------

def test_missing_app_says_what_to_install_and_changes_nothing(
        endpoint: WireGuardEndpoint) -> None:
    fake = WireGuardDevice(installed=False)
    before = fake.state()
    t = target(fake)
    with pytest.raises(DeviceError, match="WireGuard app is not installed") as err:
        t.prepare_wireguard(AppSpec(package=PKG), endpoint)
    assert f"adb push {endpoint.config_file}" in str(err.value)
    assert "download.wireguard.com" in str(err.value)
    assert not any(c.startswith(("pm clear", "cp ", "appops set")) for c in fake.log)
    t.close()
    assert fake.state() == before


def test_without_root_a_tunnel_must_already_be_up(endpoint: WireGuardEndpoint) -> None:
    fake = WireGuardDevice(root=None)
    t = target(fake)
    with pytest.raises(DeviceError, match="needs root") as err:
        t.prepare_wireguard(AppSpec(package=PKG), endpoint)
    assert "Import from file or archive" in str(err.value)
    assert "--wireguard-port" in str(err.value)
    assert not any(c.startswith(("pm clear", "cp ", "appops set", "am broadcast"))
                   for c in fake.log)


def test_without_root_a_tunnel_switched_on_by_hand_is_used(
        endpoint: WireGuardEndpoint) -> None:
    fake = WireGuardDevice(root=None)
    fake.tunnel = True
    t = target(fake, require_ca=False)
    facts = t.prepare_wireguard(AppSpec(package=PKG), endpoint, clear=False)
    assert facts["wireguard"] == {"managed": False, "interface": "tun0", "session": "consentry"}
    t.close()
    assert fake.tunnel is True  # not ours to switch off


def test_a_tunnel_that_does_not_come_up_fails_with_the_app_log_and_is_undone(
        endpoint: WireGuardEndpoint) -> None:
    fake = WireGuardDevice(refuse_tunnel=True)
    before = fake.state()
    t = target(fake)
    with pytest.raises(DeviceError, match="did not come up") as err:
        t.prepare_wireguard(AppSpec(package=PKG), endpoint)
    assert "WireGuard/GoBackend: Bringing tunnel consentry UP" in str(err.value)
    assert "ActivityManager" not in str(err.value)  # only the app's own lines
    assert fake.appops == "allow" and wg.config_path() in fake.app_files
    t.close()
    assert fake.state() == before


def test_an_unreadable_app_dir_is_an_error_before_anything_changes(
        endpoint: WireGuardEndpoint) -> None:
    fake = WireGuardDevice()
    fake.on(f"^ls -dZ {APP_DIR}$", "ls: /data/data/com.wireguard.android: Permission denied")
    before = fake.state()
    t = target(fake)
    with pytest.raises(DeviceError, match="SELinux label"):
        t.prepare_wireguard(AppSpec(package=PKG), endpoint)
    t.close()
    assert fake.state() == before


# --- endpoint and capture modes ----------------------------------------------------------------

def test_endpoint_host_for_emulators_real_devices_and_overrides() -> None:
    assert target(WireGuardDevice()).wireguard_endpoint_host() == "10.0.2.2"
    assert target(WireGuardDevice()).wireguard_listen_host() == "0.0.0.0"
    real = WireGuardDevice(serial="R58M123ABC")
    real.on("^getprop$", "[ro.build.version.sdk]: [33]\n[ro.hardware]: [qcom]\n")
    with pytest.raises(ConfigError, match="--wireguard-endpoint HOST"):
        target(real).wireguard_endpoint_host()
    assert target(real, wireguard_endpoint="192.168.1.20").wireguard_endpoint_host() == (
        "192.168.1.20")
    # an emulator reached over TCP (adb connect) is still recognised by its properties
    assert target(WireGuardDevice(serial="127.0.0.1:5555")).wireguard_endpoint_host() == (
        "10.0.2.2")


def test_capture_modes_of_the_targets() -> None:
    android = target(WireGuardDevice())
    assert android.capture_modes == ("regular", "wireguard")
    assert isinstance(android, WireGuardTarget)
    assert wireguard_target(android, "wireguard") is android
    assert wireguard_target(android, "regular") is None
    local = LocalTarget()
    try:
        assert local.capture_modes == ("regular",)
        with pytest.raises(ConfigError, match="cannot capture in 'wireguard' mode"):
            wireguard_target(local, "wireguard")
    finally:
        local.close()


def _args(**overrides: Any) -> argparse.Namespace:
    values: dict[str, Any] = {"target": "android", "capture": "regular",
                              "wireguard_endpoint": None, "wireguard_port": 51820}
    values.update(overrides)
    return argparse.Namespace(**values)


def test_cli_usage_errors_for_capture_options() -> None:
    assert capture_usage_error(_args()) is None
    assert capture_usage_error(_args(capture="wireguard", wireguard_endpoint="10.1.1.1")) is None
    assert "not available for --target local" in str(
        capture_usage_error(_args(target="local", capture="wireguard")))
    assert "only applies with --capture wireguard" in str(
        capture_usage_error(_args(wireguard_endpoint="10.1.1.1")))
    assert "not a UDP port" in str(capture_usage_error(_args(capture="wireguard",
                                                             wireguard_port=70000)))


def test_cli_exits_2_for_wireguard_on_the_local_target(capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path) -> None:
    from harness.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["run", "com.x", "--target", "local", "--command", "true", "--capture",
              "wireguard", "--out", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    assert "--capture wireguard is not available for --target local" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # nothing started


@pytest.mark.parametrize(("exit_code", "output"), [
    (1, "sh: can't create: Permission denied"),   # the shell failed: exit code says so
    (0, "Killed"),                                 # exit 0 but no marker: no answer either
], ids=["failed-shell", "no-marker"])
def test_a_failed_existence_check_is_an_error_not_absent(endpoint: WireGuardEndpoint,
                                                         exit_code: int, output: str) -> None:
    # Read as "absent", the restore at close would delete the user's WireGuard settings.
    fake = WireGuardDevice()
    fake.exists_check = lambda command: ShellResult(command, exit_code, output)
    before = fake.state()
    t = target(fake)
    with pytest.raises(DeviceError, match=f"{wg.datastore_path()}"):
        t.prepare_wireguard(AppSpec(package=PKG), endpoint)
    assert not any(c.startswith(("cp ", "appops set", "am broadcast")) for c in fake.log)
    t.close()
    assert fake.state() == before
    assert fake.app_files[wg.datastore_path()] == EXISTING_PREFS  # the user's settings kept


def test_damaged_preferences_are_reported_and_left_alone(endpoint: WireGuardEndpoint) -> None:
    fake = WireGuardDevice(prefs=EXISTING_PREFS[:-3])
    before = fake.state()
    t = target(fake)
    with pytest.raises(DeviceError, match="cannot read WireGuard's preferences"):
        t.prepare_wireguard(AppSpec(package=PKG), endpoint)
    t.close()
    assert fake.state() == before


def test_a_device_lost_while_the_key_is_staged_says_how_to_remove_it(
        endpoint: WireGuardEndpoint) -> None:
    fake = WireGuardDevice()
    real_push = fake.push

    def push(local: Path, remote: str) -> None:
        if remote.endswith(".conf"):  # the client config, with its private key
            real_push(local, remote)
            fake.unplug()
            raise DeviceLost("gone mid-copy", cause="gone")
        real_push(local, remote)

    fake.push = push
    t = target(fake)
    with pytest.raises(DeviceLost):
        t.prepare_wireguard(AppSpec(package=PKG), endpoint)
    t.mark_lost("gone")
    t.close()
    left = {entry["step"]: entry["by_hand"] for entry in t.leftovers()}
    assert left[f"remove the staging dir {wg.STAGING}"] == (
        "adb -s emulator-5554 root && adb -s emulator-5554 wait-for-device shell "
        f"{shlex.quote(wg.remove_staging())}")


@pytest.mark.parametrize(("on", "expected"), [
    (True, "nothing: \"Allow remote control apps\" was already on"),
    (False, "switch \"Allow remote control apps\" back off (it was off; consentry switched"),
])
def test_the_preferences_by_hand_line_follows_the_users_setting(
        endpoint: WireGuardEndpoint, on: bool, expected: str) -> None:
    prefs = wg.set_boolean_preference(EXISTING_PREFS, wg.REMOTE_CONTROL_KEY, on)
    fake = WireGuardDevice(prefs=prefs)
    t = target(fake)
    t.prepare_wireguard(AppSpec(package=PKG), endpoint)
    fake.unplug()
    t.mark_lost("gone")
    t.close()
    left = {entry["step"]: entry["by_hand"] for entry in t.leftovers()}
    assert expected in left["restore the WireGuard app's preferences"]
    assert f"remove the staging dir {wg.STAGING}" not in left  # removed after each copy
