"""``AdbutilsDevice``: :class:`~harness.device.shell.DeviceShell` over adbutils.

The only module that imports adbutils. Its errors become :class:`harness.errors.DeviceError`
subclasses whose message says what to do.
"""

from __future__ import annotations

import os
import posixpath
import subprocess
import uuid
from pathlib import Path

import adbutils
from adbutils.errors import AdbError, AdbInstallError, AdbTimeout

from harness.device.shell import ShellResult, select_serial
from harness.errors import DeviceError, DeviceLost, DeviceNotFound, InstallFailed

#: adbutils' error base, for uiautomator2 (built on adbutils) to map without importing it.
ADB_ERRORS: tuple[type[Exception], ...] = (AdbError,)

_NO_SERVER = (
    "Cannot reach the adb server: install Android platform-tools, run `adb start-server`, "
    "and check `adb devices` lists your device"
)


#: Seconds the "is it still there" check may take. adbutils' own default socket timeout is
#: 600 s, far too long for a check made while cleaning up after a failure.
PROBE_TIMEOUT = 5.0


def lost_message(serial: str, reason: str) -> str:
    return (f"device {serial} is gone ({reason}): it was unplugged, the emulator stopped, or "
            "the adb server restarted; check `adb devices`")


def _client() -> adbutils.AdbClient:
    # host/port from ANDROID_ADB_SERVER_HOST/_PORT, default 127.0.0.1:5037 (adb's own rule)
    return adbutils.AdbClient()


def attached_serials() -> list[str]:
    """Serials of devices in state ``device`` (offline/unauthorized ones cannot be used)."""
    try:
        return [info.serial for info in _client().list() if info.state == "device"]
    except (AdbError, OSError, subprocess.SubprocessError) as exc:  # adbutils runs start-server
        raise DeviceError(f"{_NO_SERVER} ({exc})") from exc


class AdbutilsDevice:
    """One Android device reached through the local adb server."""

    def __init__(self, serial: str | None = None) -> None:
        env = os.environ.get("ANDROID_SERIAL")
        chosen = serial or env or select_serial(None, None, attached_serials())
        self.serial = chosen
        self._device = _client().device(serial=chosen)
        try:
            state = self._device.get_state()
        except (AdbError, OSError, subprocess.SubprocessError) as exc:
            raise DeviceNotFound(
                f"Device {chosen!r} is not available ({exc}): check `adb devices`; for an "
                "emulator use its serial, e.g. emulator-5554; unlock and accept the USB "
                "debugging prompt"
            ) from exc
        if state != "device":
            raise DeviceNotFound(
                f"Device {chosen!r} is {state!r}, not ready: accept the USB debugging prompt "
                "on the device or restart it, then check `adb devices` shows `device`"
            )

    def lost_reason(self) -> str | None:
        # The adb server answers "device 'X' not found" / "device offline" at once for a
        # device that went away; a hung one is cut off by PROBE_TIMEOUT.
        try:
            with self._device.open_transport("get-state", timeout=PROBE_TIMEOUT) as conn:
                state = conn.read_string_block()
        except AdbTimeout:
            return f"adb did not answer about it within {PROBE_TIMEOUT:g}s"
        except (AdbError, OSError, subprocess.SubprocessError) as exc:
            return f"adb: {exc}"  # not found / offline / adb server down and not restartable
        return None if state == "device" else f"adb reports it {state!r}"

    def _or_lost(self, error: DeviceError) -> DeviceError:
        """``error``, or DeviceLost when the failure is the device going away (the usual
        cause of adb failing mid-run), so the session can stop and keep the evidence."""
        reason = self.lost_reason()
        if reason is None:
            return error
        return DeviceLost(f"{lost_message(self.serial, reason)} ({error})", serial=self.serial,
                          cause=reason)

    def shell(self, command: str, *, timeout: float = 60.0) -> ShellResult:
        try:
            result = self._device.shell2(command, timeout=timeout)
        except AdbTimeout as exc:
            raise self._or_lost(DeviceError(
                f"`{command}` did not finish within {timeout:.0f}s on {self.serial}: check the "
                "device is responsive (`adb shell true`)"
            )) from exc
        except (AdbError, OSError) as exc:
            raise self._or_lost(DeviceError(
                f"`{command}` failed on {self.serial}: {exc}; "
                "check the device is still listed by `adb devices`")) from exc
        return ShellResult(command=command, exit_code=result.returncode, output=result.output)

    def install(self, apk: Path) -> None:
        if not apk.is_file():
            raise InstallFailed(f"{apk}: APK file not found; pass the path of an existing .apk")
        remote = posixpath.join("/data/local/tmp", f"consentry-{uuid.uuid4().hex}.apk")
        self.push(apk, remote)
        try:
            # push + pm install rather than AdbDevice.install: that one launches the app
            # and silently uninstalls it (losing its data) on a version downgrade.
            # No -g: runtime permissions must stay ungranted so permission prompts are observed.
            self._device.install_remote(remote, clean=True, flags=["-r", "-t"])
        except AdbInstallError as exc:
            self.shell(f"rm -f {remote}")
            raise InstallFailed(
                f"Installing {apk} on {self.serial} failed: {exc.reason} ({str(exc).strip()}); "
                "fix the cause pm names (e.g. uninstall the old version on a signature "
                "mismatch, pick an APK for this device's ABI/SDK) and run again"
            ) from exc
        except (AdbError, OSError) as exc:
            raise self._or_lost(InstallFailed(
                f"Installing {apk} on {self.serial} failed: {exc}")) from exc

    def push(self, local: Path, remote: str) -> None:
        try:
            self._device.sync.push(str(local), remote)
        except (AdbError, OSError) as exc:
            raise self._or_lost(DeviceError(
                f"Copying {local} to {self.serial}:{remote} failed: {exc}; "
                "check free space on the device and the path")) from exc

    def pull(self, remote: str, local: Path) -> None:
        try:
            self._device.sync.pull(remote, local)
        except (AdbError, OSError) as exc:
            raise self._or_lost(DeviceError(
                f"Copying {self.serial}:{remote} to {local} failed: {exc}; "
                "check the file exists and is readable by the shell user")) from exc

    def reverse(self, remote: str, local: str) -> None:
        try:
            self._device.reverse(remote, local)
        except (AdbError, OSError) as exc:
            raise self._or_lost(DeviceError(
                f"`adb reverse {remote} {local}` failed on {self.serial}: {exc}; "
                "adb reverse needs Android 5+ over USB or an emulator")) from exc

    def reverse_remove(self, remote: str) -> None:
        try:
            self._device.reverse_remove(remote)
        except (AdbError, OSError) as exc:
            raise self._or_lost(DeviceError(
                f"`adb reverse --remove {remote}` failed on {self.serial}: {exc}")) from exc

    def forward(self, local: str, remote: str) -> None:
        try:
            self._device.forward(local, remote)
        except (AdbError, OSError) as exc:
            raise self._or_lost(DeviceError(
                f"`adb forward {local} {remote}` failed on {self.serial}: {exc}; "
                "is the host port already in use?")) from exc

    def forward_remove(self, local: str) -> None:
        try:
            self._device.forward_remove(local, raise_non_found=False)
        except (AdbError, OSError) as exc:
            raise self._or_lost(DeviceError(
                f"`adb forward --remove {local}` failed on {self.serial}: {exc}")) from exc

    def adbd_root(self) -> str:
        """``adb root``: restart adbd as root (works on userdebug/eng builds and emulators)."""
        try:
            return str(self._device.root())
        except (AdbError, OSError) as exc:
            raise self._or_lost(DeviceError(
                f"`adb root` failed on {self.serial}: {exc}")) from exc
