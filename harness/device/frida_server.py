"""frida-server on the device: is it running, which version, start it as root.

consentry never downloads frida-server: the user pushes the build matching the host's frida
(the error says exactly which file). A version mismatch is reported, because Frida refuses
to talk to a server of another major version and odd failures follow.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from harness.device import commands, parsers
from harness.device.shell import DeviceShell, RootMode, root_shell
from harness.errors import DeviceError

log = logging.getLogger(__name__)

#: ``ro.product.cpu.abi`` -> the arch in frida's release file names.
FRIDA_ARCH = {"arm64-v8a": "arm64", "armeabi-v7a": "arm", "armeabi": "arm",
              "x86_64": "x86_64", "x86": "x86"}


@dataclass(frozen=True, slots=True)
class FridaServerStatus:
    path: str
    present: bool
    version: str | None
    pids: list[int]

    @property
    def running(self) -> bool:
        return bool(self.pids)


def release_name(host_version: str, abi: str) -> str:
    arch = FRIDA_ARCH.get(abi, abi)
    return f"frida-server-{host_version}-android-{arch}"


def missing_message(serial: str, host_version: str, abi: str, path: str) -> str:
    name = release_name(host_version, abi)
    return (
        f"frida-server not found at {path} on {serial}: download {name}.xz matching frida "
        f"{host_version} from https://github.com/frida/frida/releases, unpack it and run "
        f"`adb -s {serial} push {name} {path}`"
    )


def running_pids(device: DeviceShell) -> list[int]:
    """Pids of frida-server; falls back to ``ps -A`` where ``pidof`` is missing (< 6.0)."""
    result = device.shell(commands.frida_server_pidof())
    if result.ok:
        return parsers.parse_pidof(result.output)
    if "not found" in result.output:
        return parsers.parse_ps_pids(device.shell(commands.ps_all()).output, "frida-server")
    return []


def status(device: DeviceShell, path: str = commands.FRIDA_SERVER_PATH) -> FridaServerStatus:
    present = device.shell(commands.file_exists(path)).ok
    version = None
    if present:
        version = parsers.parse_frida_version(
            device.shell(commands.frida_server_version(path)).output)
    return FridaServerStatus(path=path, present=present, version=version,
                             pids=running_pids(device))


def ensure_running(device: DeviceShell, *, root: RootMode | None, host_version: str, abi: str,
                   path: str = commands.FRIDA_SERVER_PATH, listen: str | None = None,
                   wait_s: float = 5.0) -> FridaServerStatus:
    """Start frida-server as root unless it runs already; raise with the fix when impossible."""
    current = status(device, path)
    if current.running:
        _check_version(current, host_version)
        return current
    if not current.present:
        raise DeviceError(missing_message(device.serial, host_version, abi, path))
    if current.version is None:
        raise DeviceError(
            f"{path} on {device.serial} does not run (`{path} --version` printed no version): "
            f"push {release_name(host_version, abi)} for this device's ABI ({abi})"
        )
    root_shell(device, root, commands.frida_server_start(path, listen=listen),
               what="Starting frida-server")
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        pids = running_pids(device)
        if pids:
            started = FridaServerStatus(path=path, present=True, version=current.version,
                                        pids=pids)
            _check_version(started, host_version)
            return started
        time.sleep(0.2)
    raise DeviceError(
        f"frida-server was started on {device.serial} but is not running after {wait_s:.0f}s: "
        f"run `adb shell su 0 {path}` by hand to see its error (SELinux, wrong ABI)"
    )


def _check_version(current: FridaServerStatus, host_version: str) -> None:
    if current.version and current.version.split(".")[0] != host_version.split(".")[0]:
        raise DeviceError(
            f"frida-server {current.version} does not match host frida {host_version}: push "
            f"the frida-server {host_version} build to {current.path} and restart it"
        )
    if current.version and current.version != host_version:
        log.warning("frida-server %s differs from host frida %s", current.version, host_version)
