"""``AndroidTarget``: the app runs on a device or emulator reached over adb.

Every change made to the device (proxy setting, adb reverse/forward, CA store, frida-server we
started) is pushed on an undo list as it is made; :meth:`AndroidTarget.close` runs that list
backwards and keeps going past failures, so a run that dies half-way still leaves the device
as it found it (above all: no global proxy pointing at a proxy that is gone).
"""

from __future__ import annotations

import functools
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.device import cacert, commands, frida_server, groundtruth, parsers
from harness.device.shell import DeviceShell, RootMode, check_output, detect_root
from harness.errors import DeviceError
from harness.files import sha256_file
from harness.targets.base import AppSpec, FridaDeviceRef, ProxyEndpoint, SpawnedApp
from harness.ui.base import UiDriver

log = logging.getLogger(__name__)

_UNSET: Any = object()


class AndroidTarget:
    name = "android"

    def __init__(self, serial: str | None = None, *, frida_server: str | None = None,
                 device: DeviceShell | None = None, require_ca: bool = True,
                 host_frida_version: str | None = None) -> None:
        """``frida_server``: ``host:port`` of a frida-server listening on a custom port
        (``127.0.0.1:PORT`` is forwarded to the device with adb); default: USB."""
        if device is None:
            from harness.device.adb import AdbutilsDevice

            device = AdbutilsDevice(serial)
        self.device = device
        self.serial = device.serial
        self._frida_server = frida_server
        self._require_ca = require_ca
        self._host_frida_version = host_frida_version
        self._props: dict[str, str] | None = None
        self._root: RootMode | None = _UNSET
        self._undo: list[tuple[str, Callable[[], None]]] = []
        self._ui: UiDriver | None = None

    # --- facts ------------------------------------------------------------------------

    def props(self) -> dict[str, str]:
        if self._props is None:
            self._props = parsers.parse_getprop(
                check_output(self.device, commands.getprop(), what="Reading device properties"))
        return self._props

    @property
    def sdk(self) -> int:
        value = self.props().get("ro.build.version.sdk", "")
        return int(value) if value.isdigit() else 0

    @property
    def root(self) -> RootMode | None:
        if self._root is _UNSET:
            self._root = detect_root(self.device)
        root: RootMode | None = self._root
        return root

    def describe(self) -> dict[str, Any]:
        return describe_props(self.props(), self.serial)

    # --- proxy --------------------------------------------------------------------------

    def proxy_listen_host(self) -> str:
        return "127.0.0.1"

    def app_proxy(self, listen_port: int, ca_pem: Path) -> ProxyEndpoint:
        # `adb reverse tcp:P tcp:P` makes the device's 127.0.0.1:P the host's 127.0.0.1:P.
        return ProxyEndpoint(host="127.0.0.1", port=listen_port, ca_pem=ca_pem)

    def prepare(self, app: AppSpec, proxy: ProxyEndpoint, *, clear: bool = True) -> dict[str, Any]:
        facts: dict[str, Any] = {"package": app.package}
        facts.update(self._install_or_locate(app))
        if clear:
            out = check_output(self.device, commands.pm_clear(app.package),
                               what=f"Clearing the data of {app.package}")
            if "Success" not in out:
                raise DeviceError(f"`pm clear {app.package}` did not succeed: {out.strip()}")
        version = parsers.parse_package_version(
            self.device.shell(commands.dumpsys_package(app.package)).output)
        facts["version_name"] = version.version_name
        facts["version_code"] = version.version_code
        self._point_at_proxy(proxy)
        facts["proxy"] = f"{proxy.host}:{proxy.port}"
        facts["ca"] = self._trust_ca(proxy.ca_pem)
        facts["frida_server"] = self._frida_server_running()
        return facts

    def _install_or_locate(self, app: AppSpec) -> dict[str, Any]:
        if app.apk is not None:
            self.device.install(app.apk)
        paths = parsers.parse_pm_path(self.device.shell(commands.pm_path(app.package)).output)
        if not paths:
            hint = (f"{app.apk} installed but package {app.package} is not there: check the "
                    "package name matches the APK" if app.apk else
                    "install it first or pass its APK")
            raise DeviceError(f"Package {app.package} is not installed on {self.serial}: {hint}")
        base = next((p for p in paths if p.endswith("/base.apk")), paths[0])
        sha = (sha256_file(app.apk) if app.apk is not None else self._remote_sha256(base))
        return {"apk_paths": paths, "sha256": sha,
                "apk_source": str(app.apk) if app.apk else "installed"}

    def _remote_sha256(self, path: str) -> str:
        result = self.device.shell(commands.sha256sum(path))
        digest = parsers.parse_sha256sum(result.output) if result.ok else None
        if digest:
            return digest
        with tempfile.TemporaryDirectory() as tmp:  # old toybox: no sha256sum, hash a copy
            local = Path(tmp) / "base.apk"
            self.device.pull(path, local)
            return sha256_file(local)

    def _point_at_proxy(self, proxy: ProxyEndpoint) -> None:
        previous = parsers.parse_settings_value(
            check_output(self.device, commands.get_global_http_proxy(),
                         what="Reading the global proxy setting"))
        spec = commands.reverse_spec(proxy.port)
        self.device.reverse(spec, spec)
        self._on_close(f"remove adb reverse {spec}", lambda: self.device.reverse_remove(spec))
        restore = commands.restore_global_http_proxy(previous)
        # Registered before the change: if `put` half-worked, close still restores.
        self._on_close(f"restore http_proxy ({previous or 'none'})",
                       lambda: self._must(restore, "Restoring the global proxy setting"))
        self._must(commands.set_global_http_proxy(proxy.host, proxy.port),
                   "Setting the global proxy")

    def _trust_ca(self, ca_pem: Path) -> dict[str, Any]:
        try:
            pem = ca_pem.read_bytes()
        except OSError as exc:
            raise DeviceError(f"{ca_pem}: cannot read the proxy CA ({exc}); start mitmdump once "
                              "so it creates ~/.mitmproxy/mitmproxy-ca-cert.pem") from exc
        try:
            done = cacert.install_ca(self.device, pem, sdk=self.sdk, root=self.root)
        except DeviceError as exc:
            if self._require_ca:
                raise
            log.warning("proxy CA not trusted, HTTPS will not be decrypted: %s", exc)
            return {"trusted": False, "reason": str(exc)}
        root = self.root
        for command in reversed(done.undo):  # the stack pops them in done.undo's order
            line = commands.as_root(command, root) if root else command
            self._on_close(f"undo CA: {command}",
                           functools.partial(self._must, line, "Removing the proxy CA"))
        return {"trusted": True, "file": done.name, "preinstalled": done.already_trusted}

    # --- frida --------------------------------------------------------------------------

    def frida_device(self) -> FridaDeviceRef:
        if self._frida_server:
            return FridaDeviceRef(kind="remote", serial=self._frida_server)
        return FridaDeviceRef(kind="usb", serial=self.serial)

    def _frida_server_running(self) -> dict[str, Any]:
        version = self._host_frida_version
        if version is None:
            from harness.instrument import frida_adapter

            version = frida_adapter.frida_version()
        listen = None
        if self._frida_server:
            host, _, port = self._frida_server.rpartition(":")
            listen = f"0.0.0.0:{port}"
            if host in ("127.0.0.1", "localhost"):
                self.device.forward(f"tcp:{port}", f"tcp:{port}")
                self._on_close(f"remove adb forward tcp:{port}",
                               lambda: self.device.forward_remove(f"tcp:{port}"))
        before = frida_server.running_pids(self.device)
        status = frida_server.ensure_running(
            self.device, root=self.root, host_version=version,
            abi=self.props().get("ro.product.cpu.abi", "unknown"), listen=listen)
        if not before:
            for pid in status.pids:
                kill = commands.as_root(commands.kill(pid), self.root or "su")
                self._on_close(f"stop frida-server {pid}",
                               functools.partial(self._must, kill, "Stopping frida-server"))
        return {"version": status.version, "pids": status.pids, "started": not before}

    def spawn(self, app: AppSpec) -> SpawnedApp:
        from harness.instrument import frida_adapter

        pid = frida_adapter.spawn(self.frida_device(), app.package)
        return SpawnedApp(pid=pid, process=app.package)

    def resume(self, spawned: SpawnedApp) -> None:
        from harness.instrument import frida_adapter

        frida_adapter.resume(self.frida_device(), spawned.pid)

    def stop_app(self, app: AppSpec) -> None:
        self._must(commands.force_stop(app.package), f"Stopping {app.package}")

    def is_running(self, spawned: SpawnedApp) -> bool:
        pids = parsers.parse_pidof(self.device.shell(commands.pidof(spawned.process)).output)
        return spawned.pid in pids

    # --- UI and ground truth ------------------------------------------------------------

    def ui(self) -> UiDriver:
        if self._ui is None:
            from harness.ui.u2 import Uiautomator2Driver

            self._ui = Uiautomator2Driver(self.serial)
        return self._ui

    def ground_truth(self) -> dict[str, list[str]]:
        return groundtruth.collect(self.device, sdk=self.sdk, root=self.root)

    # --- undo ---------------------------------------------------------------------------

    def _must(self, command: str, what: str) -> None:
        check_output(self.device, command, what=what)

    def _on_close(self, label: str, undo: Callable[[], None]) -> None:
        self._undo.append((label, undo))

    def close(self) -> None:
        """Run every undo step, newest first; report all that failed together."""
        failures: list[str] = []
        while self._undo:
            label, undo = self._undo.pop()
            try:
                undo()
            except Exception as exc:  # noqa: BLE001 - keep restoring; reported below
                log.error("could not %s on %s: %s", label, self.serial, exc)
                failures.append(f"{label}: {exc}")
        if failures:
            raise DeviceError(
                f"Device {self.serial} was not fully restored; fix by hand:\n  "
                + "\n  ".join(failures)
                + "\n(`adb shell settings put global http_proxy :0` removes a stale proxy)"
            )


def describe_props(props: dict[str, str], serial: str) -> dict[str, Any]:
    """The manifest's device facts from ``getprop`` output."""
    sdk = props.get("ro.build.version.sdk", "")
    emulator = (props.get("ro.kernel.qemu") == "1" or props.get("ro.boot.qemu") == "1"
                or props.get("ro.hardware") in ("goldfish", "ranchu")
                or "emulator" in props.get("ro.build.characteristics", ""))
    return {
        "serial": serial,
        "model": props.get("ro.product.model"),
        "manufacturer": props.get("ro.product.manufacturer"),
        "android_release": props.get("ro.build.version.release"),
        "sdk": int(sdk) if sdk.isdigit() else None,
        "abi": props.get("ro.product.cpu.abi"),
        "emulator": emulator,
        "fingerprint": props.get("ro.build.fingerprint"),
    }
