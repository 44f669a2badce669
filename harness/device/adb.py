"""``AdbutilsDevice``: :class:`~harness.device.shell.DeviceShell` over adbutils.

The only module that imports adbutils. Its errors become :class:`harness.errors.DeviceError`
subclasses whose message says what to do.
"""

from __future__ import annotations

import logging
import os
import posixpath
import socket
import subprocess
import uuid
from pathlib import Path

import adbutils
from adbutils.errors import AdbError, AdbInstallError, AdbTimeout

from harness.device.shell import ShellResult, select_serial
from harness.errors import DeviceError, DeviceLost, DeviceNotFound, InstallFailed

#: adbutils' error base, for uiautomator2 (built on adbutils) to map without importing it.
ADB_ERRORS: tuple[type[Exception], ...] = (AdbError,)

log = logging.getLogger(__name__)

_NO_SERVER = (
    "Cannot reach the adb server: install Android platform-tools, run `adb start-server`, "
    "and check `adb devices` lists your device"
)


#: Seconds the "is it still there" check may take. adbutils' own default socket timeout is
#: 600 s, far too long for a check made while cleaning up after a failure.
PROBE_TIMEOUT = 5.0
#: Seconds the adb server gets to accept a connection before it counts as not running.
CONNECT_TIMEOUT = 1.0
_EXIT_MARK = "X4EXIT:"

#: get-state timeouts in a row before the periodic check calls the device lost: one slow
#: answer from a busy adb server must not end a good run.
SLOW_IN_A_ROW = 2


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
        self._slow = 0
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

    def _server_down(self) -> str | None:
        # Checked first with a plain socket: adbutils' own connect runs `adb start-server`
        # (up to 20 s) on a refused connection, and a check must neither wait nor start one.
        client = _client()
        try:
            socket.create_connection((client.host, client.port), CONNECT_TIMEOUT).close()
        except OSError as exc:
            return f"adb server not running at {client.host}:{client.port} ({exc})"
        return None

    def _state(self) -> tuple[str | None, bool]:
        """(why the adb server says the device is unusable or None, whether it answered)."""
        try:
            with self._device.open_transport("get-state", timeout=PROBE_TIMEOUT) as conn:
                state = conn.read_string_block()
        except AdbTimeout:
            return f"adb did not answer about it within {PROBE_TIMEOUT:g}s", False
        except (AdbError, OSError, subprocess.SubprocessError) as exc:
            return f"adb: {exc}", True  # not found / offline
        return (None if state == "device" else f"adb reports it {state!r}"), True

    def lost_reason(self) -> str | None:
        """The cheap periodic check. ``get-state`` is answered by the adb server from its
        device table ("not found", "offline" at once for a device that went away), so it
        never sees a hung device: :meth:`confirm_lost` does, after a command failed."""
        down = self._server_down()
        if down is not None:
            return down
        reason, answered = self._state()
        if answered:
            self._slow = 0
            return reason
        self._slow += 1
        if self._slow < SLOW_IN_A_ROW:
            log.warning("adb was slow to answer about %s (%s); asking again at the next "
                        "check", self.serial, reason)
            return None
        return f"{reason}, {self._slow} times in a row"

    def confirm_lost(self) -> str | None:
        """After a failure: why the device cannot be used, or None when it really answers.
        Beyond :meth:`lost_reason`, a device the adb server still lists must run
        ``echo ok`` within :data:`PROBE_TIMEOUT` (a frozen emulator or a stuck adbd stays
        listed as ``device``)."""
        down = self._server_down()
        if down is not None:
            return down
        reason, answered = self._state()
        if answered and reason is not None:
            return reason
        try:
            code, output = self._shell_v1("echo ok", PROBE_TIMEOUT, exit_code=False)
        except (AdbError, OSError, subprocess.SubprocessError) as exc:
            return (f"listed by adb but it did not answer `echo ok` within "
                    f"{PROBE_TIMEOUT:g}s: hung ({exc})")
        if output.strip() != "ok":
            return f"`echo ok` printed {output.strip()[:100]!r}"
        self._slow = 0
        return None

    def _or_lost(self, error: DeviceError) -> DeviceError:
        """``error``, or DeviceLost when the failure is the device going away (the usual
        cause of adb failing mid-run), so the session can stop and keep the evidence."""
        reason = self.confirm_lost()
        if reason is None:
            return error
        return DeviceLost(f"{lost_message(self.serial, reason)} ({error})", serial=self.serial,
                          cause=reason)

    def _shell_v1(self, command: str, timeout: float, *,
                  exit_code: bool = True) -> tuple[int, str]:
        """adbutils' shell2 protocol (``; echo X4EXIT:$?``), but with ``timeout`` from the
        start: shell2 applies it only after the device accepted the command, so a hung
        device holds it for adbutils' 600 s socket timeout."""
        line = f"{command}; echo {_EXIT_MARK}$?" if exit_code else command
        with self._device.open_transport(timeout=timeout) as conn:
            conn.send_command("shell:" + line)
            conn.check_okay()
            raw = conn.read_until_close(encoding=None)
        assert isinstance(raw, bytes)
        if not exit_code:
            return 0, raw.decode("utf-8", errors="replace")
        mark = raw.rfind(_EXIT_MARK.encode())
        if mark == -1:
            raise AdbError(f"no exit status in the output of `{command}` (connection cut)")
        status = raw[mark + len(_EXIT_MARK):].strip()
        return int(status or b"-1"), raw[:mark].decode("utf-8", errors="replace")

    def shell(self, command: str, *, timeout: float = 60.0) -> ShellResult:
        try:
            code, output = self._shell_v1(command, timeout)
        except AdbTimeout as exc:
            raise self._or_lost(DeviceError(
                f"`{command}` did not finish within {timeout:.0f}s on {self.serial}: check the "
                "device is responsive (`adb shell true`)"
            )) from exc
        except (AdbError, OSError, ValueError) as exc:
            raise self._or_lost(DeviceError(
                f"`{command}` failed on {self.serial}: {exc}; "
                "check the device is still listed by `adb devices`")) from exc
        return ShellResult(command=command, exit_code=code, output=output)

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
        """Already gone counts as removed: an adb server restart drops every reverse."""
        try:
            self._device.reverse_remove(remote)
        except AdbError as exc:
            if "not found" in str(exc) and self.confirm_lost() is None:
                log.info("adb reverse %s on %s was already gone", remote, self.serial)
                return
            raise self._or_lost(DeviceError(
                f"`adb reverse --remove {remote}` failed on {self.serial}: {exc}")) from exc
        except OSError as exc:
            raise self._or_lost(DeviceError(
                f"`adb reverse --remove {remote}` failed on {self.serial}: {exc}")) from exc

    def reverse_list(self) -> list[str]:
        """The device ports reversed now (``tcp:8080``), asked with a bounded wait."""
        try:
            with self._device.open_transport(timeout=PROBE_TIMEOUT) as conn:
                conn.send_command("reverse:list-forward")
                conn.check_okay()
                listing = conn.read_string_block()
        except (AdbError, OSError) as exc:
            raise self._or_lost(DeviceError(
                f"`adb reverse --list` failed on {self.serial}: {exc}")) from exc
        # one "<transport> <remote> <local>" line per reverse (adb's reverse:list-forward)
        return [parts[1] for parts in map(str.split, listing.splitlines()) if len(parts) == 3]

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
