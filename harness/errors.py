"""Every error consentry raises on purpose.

    HarnessError
     +-- ConfigError            bad command-line input or configuration
     |    +-- ScenarioError     a scenario file that cannot be used (file, line, what was expected)
     |    +-- InputError        an input file (HAR, flow dump, values, dump) that cannot be read
     +-- ToolchainError         a missing external tool (npm, javac, mitmdump), with what to run
     +-- DeviceError            the Android device or its adb connection
     |    +-- DeviceNotFound
     |    +-- AmbiguousDevice
     |    +-- InstallFailed
     |    +-- DeviceLost        the device went away mid-run (unplugged, emulator died, adb
     |                          server restarted): the run ends incomplete, evidence kept
     +-- InstrumentationError   Frida: attach, agent load or agent crash
     +-- CaptureError           the proxy failed; evidence may be missing, so the run fails
     +-- UiError                the UI driver failed
     |    +-- ElementNotFound
     +-- EvidenceError          the run directory cannot be written or read

Library code raises these; only ``cli.py`` turns them into a message and an exit code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from harness.session import SessionResult


class Leftover(TypedDict):
    """A change to the device that could not be undone."""

    step: str
    by_hand: str
    """The command (or, where none exists, the action) that undoes it."""
    why: str


class HarnessError(Exception):
    """Base of all consentry errors. The message says what to do about it."""


class ConfigError(HarnessError):
    pass


class ScenarioError(ConfigError):
    """A scenario that cannot be used; the message names the file and line."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}")


class InputError(ConfigError):
    pass


class ToolchainError(HarnessError):
    pass


class DeviceError(HarnessError):
    pass


class DeviceNotFound(DeviceError):
    pass


class AmbiguousDevice(DeviceError):
    pass


class InstallFailed(DeviceError):
    pass


class DeviceLost(DeviceError):
    """The device stopped answering mid-run. ``cause`` is what showed it (adb's or Frida's
    words); ``result`` is the session's partial result (evidence recorded up to the loss,
    analysed) once the session has closed the bundle; ``not_restored`` lists the changes to
    the device that could not be undone (``step``, ``by_hand``, ``why``)."""

    def __init__(self, message: str, *, serial: str | None = None, cause: str | None = None,
                 not_restored: list[Leftover] | None = None,
                 result: SessionResult | None = None) -> None:
        self.serial = serial
        self.cause = cause
        self.not_restored = list(not_restored or [])
        self.result = result
        super().__init__(message)


class InstrumentationError(HarnessError):
    pass


class CaptureError(HarnessError):
    pass


class UiError(HarnessError):
    pass


class ElementNotFound(UiError):
    pass


class EvidenceError(HarnessError):
    pass
