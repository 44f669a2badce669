"""AndroidTarget against a scripted device: what it runs, in which order, and that close()
puts the device back as it was, also after a failure half-way through prepare()."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from typing import Any

import pytest

from harness.errors import DeviceError, InstallFailed
from harness.targets.android import AndroidTarget, describe_props
from harness.targets.base import AppSpec, FridaDeviceRef, ProxyEndpoint, SpawnedApp
from tests.unit.certs import make_ca

_TESTS = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("fakeshell", _TESTS / "unit/device/fakeshell.py")
assert _spec is not None and _spec.loader is not None
fakeshell = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fakeshell)
FakeShell = fakeshell.FakeShell

DATA = _TESTS / "data" / "android"
PKG = "com.example.shop"
CA_SETUP = r"^(rm -rf|mkdir|cp |mount|chown|chmod 644|chcon|for z|umount|test -f|nsenter)"


def rooted_emulator(*, proxy_before: str | None = None) -> Any:
    fake = FakeShell()
    fake.on("^getprop$", (DATA / "getprop_multiline.txt").read_text())  # API 34 emulator
    fake.on(r"^id -u$", "0\n")
    fake.on(f"^pm path {PKG}$", (DATA / "pm_path_split.txt").read_text())
    fake.on(f"^pm clear {PKG}$", "Success\n")
    fake.on(f"^dumpsys package {PKG}$", (DATA / "dumpsys_package_example.txt").read_text())
    fake.on("^sha256sum ", "ab" * 32 + "  /data/app/x/base.apk\n")
    fake.on(r"^test -e /apex/com.android.conscrypt/cacerts/", exit_code=1)  # CA not yet there
    fake.on(CA_SETUP)
    fake.on("^rm -f ")
    fake.on("^test -e /data/local/tmp/frida-server$")
    fake.on("--version$", "17.2.6\n")
    fake.on("^pidof frida-server$", "4821\n")
    if proxy_before is not None:
        fake.settings["http_proxy"] = proxy_before
    return fake


@pytest.fixture
def proxy(tmp_path: Path) -> ProxyEndpoint:
    """An endpoint with a real CA certificate whose subject is mitmproxy's (c8750f0d.0)."""
    pem = tmp_path / "mitmproxy-ca-cert.pem"
    pem.write_bytes(make_ca())
    return ProxyEndpoint(host="127.0.0.1", port=8080, ca_pem=pem)


def target(fake: Any, **kwargs: Any) -> AndroidTarget:
    return AndroidTarget(device=fake, host_frida_version="17.2.6", **kwargs)


def index(log: list[str], prefix: str) -> int:
    return next(i for i, entry in enumerate(log) if entry.startswith(prefix))


# --- describe ------------------------------------------------------------------------------

def test_describe_from_one_getprop() -> None:
    fake = rooted_emulator()
    facts = target(fake).describe()
    assert facts == {
        "serial": "emulator-5554", "model": "sdk_gphone64_x86_64", "manufacturer": "Google",
        "android_release": "14", "sdk": 34, "abi": "x86_64", "emulator": True,
        "fingerprint": "google/sdk_gphone64_x86_64/emu64xa:14/UE1A.230829.036.A1/11228894:"
                       "userdebug/dev-keys",
    }
    assert fake.log == ["getprop"]


def test_describe_props_real_device_is_not_emulator() -> None:
    facts = describe_props({"ro.build.version.sdk": "33", "ro.hardware": "qcom",
                            "ro.build.characteristics": "nosdcard"}, "R58M123")
    assert facts["emulator"] is False and facts["sdk"] == 33 and facts["model"] is None


# --- prepare / close -----------------------------------------------------------------------

def test_prepare_installed_app_then_close_restores_everything(proxy: ProxyEndpoint) -> None:
    fake = rooted_emulator()
    t = target(fake)
    facts = t.prepare(AppSpec(package=PKG), proxy)
    assert facts["version_name"] == "4.2.17-release" and facts["version_code"] == 40217
    assert facts["sha256"] == "ab" * 32 and facts["apk_source"] == "installed"
    assert facts["apk_paths"][0].endswith("/base.apk") and len(facts["apk_paths"]) == 3
    assert facts["ca"] == {"trusted": True, "file": "c8750f0d.0", "preinstalled": False}
    assert facts["frida_server"] == {"version": "17.2.6", "pids": [4821], "started": False}
    assert fake.settings["http_proxy"] == "127.0.0.1:8080"
    assert fake.reverses == {"tcp:8080"}
    log = fake.log
    assert index(log, "pm clear") < index(log, "reverse tcp:8080 tcp:8080") \
        < index(log, "settings put global http_proxy 127.0.0.1:8080")
    assert index(log, "settings get global http_proxy") < index(log, "settings put")
    assert fake.unscripted == []

    fake.log.clear()
    t.close()
    assert fake.settings["http_proxy"] == ":0"  # there was none: ":0", not a delete
    assert fake.reverses == set()
    # newest change undone first: CA mounts, then proxy, then the reverse
    assert fake.log[0].startswith("for z in") and "umount" in fake.log[0]
    assert fake.log[1:3] == ["umount /apex/com.android.conscrypt/cacerts",
                             "umount /system/etc/security/cacerts"]
    assert index(fake.log, "settings put global http_proxy :0") \
        < index(fake.log, "reverse --remove tcp:8080")
    assert not any("kill" in c for c in fake.log)  # frida-server was already running
    fake.log.clear()
    t.close()  # idempotent: nothing left to undo
    assert fake.log == []


def test_previous_proxy_value_is_put_back(proxy: ProxyEndpoint) -> None:
    fake = rooted_emulator(proxy_before="10.0.0.5:3128")
    t = target(fake)
    t.prepare(AppSpec(package=PKG), proxy, clear=False)
    assert not any(c.startswith("pm clear") for c in fake.log)
    t.close()
    assert fake.settings["http_proxy"] == "10.0.0.5:3128"


def test_failure_in_the_middle_still_restores_on_close(proxy: ProxyEndpoint) -> None:
    fake = rooted_emulator(proxy_before="10.0.0.5:3128")
    fake.on("^test -f ", "test: not found", exit_code=1)  # CA verification fails
    t = target(fake)
    with pytest.raises(DeviceError, match="Verifying the proxy CA c8750f0d.0"):
        t.prepare(AppSpec(package=PKG), proxy)
    assert fake.settings["http_proxy"] == "127.0.0.1:8080"  # changed before the failure
    t.close()
    assert fake.settings["http_proxy"] == "10.0.0.5:3128"
    assert fake.reverses == set()


def test_close_keeps_restoring_past_a_failing_step_and_reports_it(
        proxy: ProxyEndpoint) -> None:
    fake = rooted_emulator()
    t = target(fake)
    t.prepare(AppSpec(package=PKG), proxy)
    fake.fail_op("reverse_remove", DeviceError("device offline"))
    fake.on("^umount /apex", "umount: not mounted", exit_code=1)
    with pytest.raises(DeviceError) as info:
        t.close()
    assert "device offline" in str(info.value) and "umount" in str(info.value)
    assert "settings put global http_proxy :0" in str(info.value)  # says how to fix by hand
    assert fake.settings["http_proxy"] == ":0"  # the proxy was still restored


def test_apk_is_installed_and_hashed_locally(proxy: ProxyEndpoint, tmp_path: Path) -> None:
    apk = tmp_path / "shop.apk"
    apk.write_bytes(b"PK\x03\x04 not really an apk")
    fake = rooted_emulator()
    facts = target(fake).prepare(AppSpec(package=PKG, apk=apk), proxy)
    assert fake.log.index(f"install {apk}") < index(fake.log, "pm path")
    assert facts["sha256"] == hashlib.sha256(apk.read_bytes()).hexdigest()
    assert not any(c.startswith("sha256sum") for c in fake.log)


def test_install_failure_changes_nothing(proxy: ProxyEndpoint, tmp_path: Path) -> None:
    fake = rooted_emulator()
    fake.fail_op("install", InstallFailed("INSTALL_FAILED_UPDATE_INCOMPATIBLE"))
    t = target(fake)
    with pytest.raises(InstallFailed, match="INSTALL_FAILED_UPDATE_INCOMPATIBLE"):
        t.prepare(AppSpec(package=PKG, apk=tmp_path / "x.apk"), proxy)
    assert "http_proxy" not in fake.settings
    fake.log.clear()
    t.close()
    assert fake.log == []


def test_missing_package_says_what_to_do(proxy: ProxyEndpoint) -> None:
    fake = rooted_emulator()
    fake.on("^pm path ", "", exit_code=1)
    with pytest.raises(DeviceError, match="not installed on emulator-5554: install it first"):
        target(fake).prepare(AppSpec(package=PKG), proxy)


def test_sha256_falls_back_to_pulling_base_apk(proxy: ProxyEndpoint) -> None:
    fake = rooted_emulator()
    fake.on("^sha256sum ", "/system/bin/sh: sha256sum: not found", exit_code=127)
    base = (DATA / "pm_path_split.txt").read_text().splitlines()[0][len("package:"):]
    fake.files[base] = b"base apk bytes"
    facts = target(fake).prepare(AppSpec(package=PKG), proxy)
    assert facts["sha256"] == hashlib.sha256(b"base apk bytes").hexdigest()


def test_without_root_the_ca_can_be_optional(proxy: ProxyEndpoint) -> None:
    fake = rooted_emulator()
    fake.on(r"^id -u$", "2000\n").on("^su ", "su: not found", exit_code=127)
    fake.on("^pidof frida-server$", "4821\n")
    strict = target(fake)
    with pytest.raises(DeviceError, match="needs root"):
        strict.prepare(AppSpec(package=PKG), proxy)
    strict.close()
    assert fake.settings["http_proxy"] == ":0"
    relaxed = target(fake, require_ca=False)
    facts = relaxed.prepare(AppSpec(package=PKG), proxy)
    assert facts["ca"]["trusted"] is False and "needs root" in facts["ca"]["reason"]
    relaxed.close()
    assert fake.settings["http_proxy"] == ":0"


def test_frida_server_started_by_us_is_stopped_on_close(proxy: ProxyEndpoint) -> None:
    fake = rooted_emulator()
    fake.on("^pidof frida-server$", exit_code=1)
    fake.before("frida-server -D$", lambda: fake.on("^pidof frida-server$", "9001\n"))
    fake.on("^chmod 755 ").on(r"^if pidof frida-server \| grep -qw 9001; then kill 9001; fi$")
    t = target(fake)
    facts = t.prepare(AppSpec(package=PKG), proxy)
    assert facts["frida_server"]["started"] is True
    t.close()
    # only that pid, and only while it is still frida-server (not after a reboot)
    assert "if pidof frida-server | grep -qw 9001; then kill 9001; fi" in fake.log


# --- frida, app control, ground truth ----------------------------------------------------

def test_frida_device_refs() -> None:
    assert target(rooted_emulator()).frida_device() == FridaDeviceRef(kind="usb",
                                                                      serial="emulator-5554")
    remote = target(rooted_emulator(), frida_server="127.0.0.1:27099")
    assert remote.frida_device() == FridaDeviceRef(kind="remote", serial="127.0.0.1:27099")


def test_custom_frida_port_is_forwarded_and_listened_on(proxy: ProxyEndpoint) -> None:
    fake = rooted_emulator()
    t = target(fake, frida_server="127.0.0.1:27099")
    t.prepare(AppSpec(package=PKG), proxy)
    assert fake.forwards == {"tcp:27099"}
    t.close()
    assert fake.forwards == set()


def test_spawn_and_resume_use_the_frida_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.instrument import frida_adapter

    calls: list[tuple[str, Any, Any]] = []

    def spawn(ref: FridaDeviceRef, program: str, **kw: Any) -> int:
        calls.append(("spawn", ref, program))
        return 5120

    monkeypatch.setattr(frida_adapter, "spawn", spawn)
    monkeypatch.setattr(frida_adapter, "resume",
                        lambda ref, pid: calls.append(("resume", ref, pid)))
    t = target(rooted_emulator())
    spawned = t.spawn(AppSpec(package=PKG))
    t.resume(spawned)
    ref = FridaDeviceRef(kind="usb", serial="emulator-5554")
    assert spawned == SpawnedApp(pid=5120, process=PKG)
    assert calls == [("spawn", ref, PKG), ("resume", ref, 5120)]


def test_stop_app_and_is_running() -> None:
    fake = rooted_emulator().on(f"^pidof {PKG}$", "5120\n").on("^am force-stop ")
    t = target(fake)
    assert t.is_running(SpawnedApp(pid=5120, process=PKG))
    assert not t.is_running(SpawnedApp(pid=4000, process=PKG))
    t.stop_app(AppSpec(package=PKG))
    assert f"am force-stop {PKG}" in fake.log
    fake.on("^am force-stop ", "Error: unknown package", exit_code=255)
    with pytest.raises(DeviceError, match=f"Stopping {PKG} failed"):
        t.stop_app(AppSpec(package=PKG))


def test_ground_truth_uses_sdk_from_getprop() -> None:
    fake = rooted_emulator()
    fake.on("iphonesubinfo 1 ", (DATA / "iphonesubinfo_imei_api28.txt").read_text())
    fake.on("iphonesubinfo 8 ", (DATA / "iphonesubinfo_imsi_api28.txt").read_text())
    fake.on("^settings get secure android_id$", "9774d56d682e549c\n")
    fake.on("^(cat|dumpsys) ", "", exit_code=1)
    truth = target(fake).ground_truth()
    assert truth == {"imei": ["358240051111110"], "imsi": ["310260000000000"],
                     "android_id": ["9774d56d682e549c"]}
