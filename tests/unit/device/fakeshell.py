"""A scripted stand-in for ``DeviceShell``: records every operation, replies from rules.

``settings get/put global KEY`` are emulated with a real dict, so tests can check the device
ends in the state it started in. Any other command must be scripted with :meth:`on`;
unscripted commands fail (exit 127) and are listed in ``unscripted``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path

from harness.device.shell import ShellResult
from harness.errors import DeviceError, DeviceLost


class FakeShell:
    def __init__(self, serial: str = "emulator-5554") -> None:
        self.serial = serial
        self.log: list[str] = []
        self.unscripted: list[str] = []
        self.settings: dict[str, str] = {}
        self.reverses: set[str] = set()
        self.forwards: set[str] = set()
        self.files: dict[str, bytes] = {}
        self._rules: list[tuple[re.Pattern[str], int, str]] = []
        self._before: list[tuple[re.Pattern[str], Callable[[], object]]] = []
        self._fail_ops: dict[str, Exception] = {}
        self.gone: str | None = None
        """Why the device is gone (see :meth:`unplug`); every operation then raises."""
        self.probes = 0
        self.confirms = 0
        self.hung: str | None = None
        """Why the device is hung (see :meth:`hang`): still listed, but a round trip fails."""

    def on(self, pattern: str, output: str = "", exit_code: int = 0) -> FakeShell:
        """Reply to commands matching regex ``pattern`` (searched); later rules win."""
        self._rules.insert(0, (re.compile(pattern), exit_code, output))
        return self

    def before(self, pattern: str, action: Callable[[], object]) -> FakeShell:
        """Run ``action`` as a command matching regex ``pattern`` (searched) arrives, before
        it is handled: something happens on the device at that moment (it is unplugged, it
        hangs, a process appears)."""
        self._before.append((re.compile(pattern), action))
        return self

    def fail_op(self, op: str, exc: Exception) -> None:
        """Make a non-shell operation (install, reverse, push, ...) raise ``exc``."""
        self._fail_ops[op] = exc

    def unplug(self, reason: str = "adb: device 'emulator-5554' not found") -> None:
        """The device goes away: from now on every operation raises DeviceLost, as
        ``AdbutilsDevice`` does once its check finds the device gone."""
        self.gone = reason

    def replug(self) -> None:
        self.gone = None

    def hang(self, reason: str = "listed by adb but it did not answer `echo ok` within 5s: hung") -> None:
        """The device freezes: adb still lists it (:meth:`lost_reason` says nothing), only
        :meth:`confirm_lost`'s round trip notices."""
        self.hung = reason

    def lost_reason(self) -> str | None:
        self.probes += 1
        return self.gone

    def confirm_lost(self) -> str | None:
        self.confirms += 1
        return self.gone or self.hung

    def _check_there(self, what: str) -> None:
        if self.gone is not None:
            raise DeviceLost(f"device {self.serial} is gone ({self.gone}) ({what})",
                             serial=self.serial, cause=self.gone)

    def shell(self, command: str, *, timeout: float = 60.0) -> ShellResult:
        for pattern, action in self._before:
            if pattern.search(command):
                action()
        self._check_there(f"`{command}`")
        self.log.append(command)
        for pattern, code, output in self._rules:
            if pattern.search(command):
                return ShellResult(command=command, exit_code=code, output=output)
        settings = self._settings(command)
        if settings is not None:
            return ShellResult(command=command, exit_code=0, output=settings)
        self.unscripted.append(command)
        return ShellResult(command=command, exit_code=127, output=f"sh: {command}: not found")

    def _settings(self, command: str) -> str | None:
        argv = shlex.split(command)
        if argv[:3] == ["settings", "get", "global"] and len(argv) == 4:
            return self.settings.get(argv[3], "null") + "\n"
        if argv[:3] == ["settings", "put", "global"] and len(argv) == 5:
            self.settings[argv[3]] = argv[4]
            return ""
        return None

    def _op(self, entry: str, op: str) -> None:
        self._check_there(entry)
        self.log.append(entry)
        if op in self._fail_ops:
            raise self._fail_ops[op]

    def install(self, apk: Path) -> None:
        self._op(f"install {apk}", "install")

    def push(self, local: Path, remote: str) -> None:
        self._op(f"push {local.name} {remote}", "push")
        self.files[remote] = local.read_bytes()

    def pull(self, remote: str, local: Path) -> None:
        self._op(f"pull {remote}", "pull")
        if remote not in self.files:
            raise DeviceError(f"remote object {remote!r} does not exist")
        local.write_bytes(self.files[remote])

    def reverse(self, remote: str, local: str) -> None:
        self._op(f"reverse {remote} {local}", "reverse")
        self.reverses.add(remote)

    def reverse_remove(self, remote: str) -> None:
        self._op(f"reverse --remove {remote}", "reverse_remove")
        self.reverses.discard(remote)

    def reverse_list(self) -> list[str]:
        self._op("reverse --list", "reverse_list")
        return sorted(self.reverses)

    def forward(self, local: str, remote: str) -> None:
        self._op(f"forward {local} {remote}", "forward")
        self.forwards.add(local)

    def forward_remove(self, local: str) -> None:
        self._op(f"forward --remove {local}", "forward_remove")
        self.forwards.discard(local)
