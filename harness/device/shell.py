"""The small device interface the rest of the Android code talks to.

``AdbutilsDevice`` (``adb.py``) implements it over adbutils; unit tests implement it with a
scripted fake. Everything else (target, frida-server, CA, ground truth) only sees
:class:`DeviceShell`, so it is testable without a device.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from harness.device import commands
from harness.errors import AmbiguousDevice, DeviceError, DeviceNotFound

log = logging.getLogger(__name__)

RootMode = Literal["adbd", "su"]
"""How root commands run: adbd itself is root (``adb root``), or through ``su 0 sh -c``."""


@dataclass(frozen=True, slots=True)
class ShellResult:
    command: str
    exit_code: int
    output: str
    """stdout and stderr together, as ``adb shell`` prints them."""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class DeviceShell(Protocol):
    serial: str

    def shell(self, command: str, *, timeout: float = 60.0) -> ShellResult:
        """Run one ``sh`` command line on the device; never raises for a non-zero exit."""
        ...

    def install(self, apk: Path) -> None:
        """Install (or replace) the APK; raises ``InstallFailed`` with the pm reason."""
        ...

    def push(self, local: Path, remote: str) -> None: ...

    def pull(self, remote: str, local: Path) -> None: ...

    def reverse(self, remote: str, local: str) -> None:
        """``adb reverse REMOTE LOCAL``: device port -> host port."""
        ...

    def reverse_remove(self, remote: str) -> None: ...

    def reverse_list(self) -> list[str]:
        """The device ports reversed now (``tcp:8080``)."""
        ...

    def forward(self, local: str, remote: str) -> None:
        """``adb forward LOCAL REMOTE``: host port -> device port."""
        ...

    def forward_remove(self, local: str) -> None: ...

    def lost_reason(self) -> str | None:
        """Why the device cannot be reached (gone from adb, offline, adb server down), or
        None while it is listed. Quick and bounded: asked every few seconds during a run."""
        ...

    def confirm_lost(self) -> str | None:
        """Like :meth:`lost_reason`, plus a real round trip to the device (a hung one stays
        listed): asked after a failure or a timeout, and at close. Bounded (seconds)."""
        ...


def check_output(device: DeviceShell, command: str, *, what: str, timeout: float = 60.0) -> str:
    """Run ``command`` and return its output, or raise DeviceError naming ``what`` failed."""
    result = device.shell(command, timeout=timeout)
    if not result.ok:
        raise DeviceError(
            f"{what} failed on device {device.serial} (exit {result.exit_code}): "
            f"`{command}` printed: {result.output.strip()[:500] or '(nothing)'}"
        )
    return result.output


def detect_root(device: DeviceShell) -> RootMode | None:
    """Whether root commands are possible, and how."""
    if device.shell(commands.uid()).output.strip() == "0":
        return "adbd"
    if device.shell(commands.as_root(commands.uid(), "su")).output.strip() == "0":
        return "su"
    log.debug("no root on %s: adbd is not root and `su 0` did not give uid 0", device.serial)
    return None


def root_shell(device: DeviceShell, mode: RootMode | None, command: str, *,
               what: str, timeout: float = 60.0) -> str:
    """Run ``command`` as root, or raise a DeviceError that says how to get root."""
    if mode is None:
        raise DeviceError(
            f"{what} needs root on device {device.serial}: use an emulator image without "
            "Google Play (then `adb root`) or a rooted device with `su`"
        )
    return check_output(device, commands.as_root(command, mode), what=what, timeout=timeout)


def select_serial(explicit: str | None, env_serial: str | None, attached: list[str]) -> str:
    """Pick the device: explicit serial, then ANDROID_SERIAL, then the only attached one."""
    if explicit:
        return explicit
    if env_serial:
        return env_serial
    if not attached:
        raise DeviceNotFound(
            "No Android device attached: start an emulator or connect a device with USB "
            "debugging enabled, then check `adb devices` lists it as `device`"
        )
    if len(attached) > 1:
        raise AmbiguousDevice(
            f"{len(attached)} devices attached ({', '.join(attached)}): "
            "No device selected: pass --serial, set ANDROID_SERIAL, or connect exactly one device"
        )
    return attached[0]
