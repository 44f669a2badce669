"""Which app a test session runs, and on which target.

An :class:`AppUnderTest` turns into a target, an :class:`AppSpec` and any extra session
options when a run starts; whatever it starts for the run (the specimen's tracker server, a
temporary data directory) is closed by the ``stack`` it is given, after the session.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from harness.errors import ConfigError
from harness.targets.base import AppSpec, Target


@dataclass(frozen=True, slots=True, kw_only=True)
class Prepared:
    target: Target
    app: AppSpec
    session_options: dict[str, Any] = field(default_factory=dict)
    """Extra ``SessionOptions`` fields this app needs (e.g. proxy host overrides)."""


class AppUnderTest(Protocol):
    """What the ``consentry_app`` fixture returns."""

    @property
    def target_name(self) -> Literal["local", "android"]: ...

    def describe(self) -> str:
        """One line for reports: the app and where it runs."""
        ...

    def open(self, out: Path, stack: contextlib.ExitStack) -> Prepared:
        """Target and app for one run writing to ``out``; helpers are closed by ``stack``."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class SpecimenApp:
    """The bundled JVM specimen on the local target, with its local HTTPS tracker standing in
    for the SDK hosts (as ``consentry demo`` runs it)."""

    variant: str = "default"
    """``default``, ``notice``, ``second-layer`` or ``permissions`` (see ``consentry demo``)."""

    @property
    def target_name(self) -> Literal["local"]:
        return "local"

    def describe(self) -> str:
        return f"specimen app ({self.variant}) on the local target"

    def open(self, out: Path, stack: contextlib.ExitStack) -> Prepared:
        from harness.specimen.setup import specimen_with_tracker
        from harness.targets.local import LocalTarget

        specimen = stack.enter_context(specimen_with_tracker(self.variant))
        return Prepared(
            target=LocalTarget(log_dir=out), app=specimen.app,
            session_options={
                "resolve": specimen.resolve,
                "ssl_insecure": True,  # only the proxy's upstream leg to the local tracker
            })


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalApp:
    """Any program on this host under the local target (``command`` is its argv)."""

    package: str
    command: tuple[str, ...]

    @property
    def target_name(self) -> Literal["local"]:
        return "local"

    def describe(self) -> str:
        return f"{self.package} ({' '.join(self.command)}) on the local target"

    def open(self, out: Path, stack: contextlib.ExitStack) -> Prepared:
        from harness.targets.local import LocalTarget

        if not self.command:
            raise ConfigError("LocalApp needs a command (the argv that starts the program)")
        return Prepared(target=LocalTarget(log_dir=out),
                        app=AppSpec(package=self.package, command=list(self.command)))


@dataclass(frozen=True, slots=True, kw_only=True)
class AndroidApp:
    """An app on an Android device or emulator (rooted, frida-server running)."""

    package: str
    apk: Path | None = None
    """Install this APK first; otherwise the package must already be installed."""
    serial: str | None = None
    """adb serial; default ANDROID_SERIAL, or the only attached device."""
    wireguard_endpoint: str | None = None
    """WireGuard capture on a physical device: this host's address as the device sees it."""

    @property
    def target_name(self) -> Literal["android"]:
        return "android"

    def describe(self) -> str:
        where = self.serial or "the attached device"
        return f"{self.package} on {where}" + (f" (installed from {self.apk})" if self.apk
                                               else "")

    def open(self, out: Path, stack: contextlib.ExitStack) -> Prepared:
        from harness.targets.android import AndroidTarget

        if self.apk is not None and not self.apk.is_file():
            raise ConfigError(f"APK {self.apk}: no such file")
        return Prepared(target=AndroidTarget(self.serial,
                                             wireguard_endpoint=self.wireguard_endpoint),
                        app=AppSpec(package=self.package, apk=self.apk))
