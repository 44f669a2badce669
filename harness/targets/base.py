"""The ``Target`` protocol: everything the session needs from the place the app runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from harness.capture.proxy import CaptureMode as CaptureMode  # re-exported for targets
from harness.ui.base import UiDriver


@dataclass(frozen=True, slots=True, kw_only=True)
class FridaDeviceRef:
    """Which Frida device instruments the app; resolved by ``harness.instrument.frida_adapter``."""

    kind: Literal["local", "usb", "remote"]
    serial: str | None = None
    """USB device id (the adb serial) or ``host:port`` for a remote frida-server."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyEndpoint:
    """Where the app must send its traffic, and the CA it must trust."""

    host: str
    port: int
    ca_pem: Path


@dataclass(frozen=True, slots=True, kw_only=True)
class WireGuardEndpoint:
    """The WireGuard server (mitmdump in ``wireguard`` mode) the device tunnels everything
    through, as the device reaches it, and the CA the app must trust."""

    host: str
    port: int
    """UDP port."""
    client_config: str
    """``wg-quick`` client configuration, ``Endpoint = host:port`` already set."""
    config_file: Path
    """The same configuration saved on the host (the manual import path shown in errors)."""
    ca_pem: Path


@dataclass(frozen=True, slots=True, kw_only=True)
class AppSpec:
    """The app under test."""

    package: str
    """Android package name (also the process name of the main process)."""

    apk: Path | None = None
    """Android: install this APK first (otherwise the package must be installed)."""

    command: list[str] | None = None
    """Local target: the argv that starts the process."""

    options: dict[str, Any] = field(default_factory=dict)
    """Target-specific extras (local: environment, JVM properties, control port)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SpawnedApp:
    pid: int
    process: str


class Target(Protocol):
    name: str
    """``android`` or ``local``."""

    capture_modes: tuple[CaptureMode, ...]
    """Traffic capture modes this target can set up; ``regular`` (first) is the default. A
    target that lists ``wireguard`` implements :class:`WireGuardTarget`."""

    def describe(self) -> dict[str, Any]:
        """Facts for the manifest: device model, Android version, serial, abi, ..."""
        ...

    def proxy_listen_host(self) -> str:
        """The host address mitmdump listens on for this target (loopback where possible)."""
        ...

    def app_proxy(self, listen_port: int, ca_pem: Path) -> ProxyEndpoint:
        """The proxy address as the app sees it (e.g. through ``adb reverse``)."""
        ...

    def prepare(self, app: AppSpec, proxy: ProxyEndpoint, *, clear: bool = True) -> dict[str, Any]:
        """Install or locate the app, clear its data, point it at the proxy and trust the CA.

        Returns app facts for the manifest (version, sha256 of the APK or program). Whatever
        it changes on the device is restored by :meth:`close`, even after a failure.
        """
        ...

    def frida_device(self) -> FridaDeviceRef: ...

    def spawn(self, app: AppSpec) -> SpawnedApp:
        """Start the app suspended: none of its code runs before :meth:`resume`."""
        ...

    def resume(self, spawned: SpawnedApp) -> None: ...

    def stop_app(self, app: AppSpec) -> None:
        """Force-stop the app (all its processes)."""
        ...

    def is_running(self, spawned: SpawnedApp) -> bool: ...

    def ui(self) -> UiDriver: ...

    def ground_truth(self) -> dict[str, list[str]]:
        """The device's own personal values (IMEI, Android ID, MAC, ...) by data type."""
        ...

    def close(self) -> None:
        """Undo every change made to the device (proxy settings above all)."""
        ...


@runtime_checkable
class WireGuardTarget(Target, Protocol):
    """A target that can route the app's traffic through a WireGuard tunnel to mitmdump
    (for apps that ignore the proxy setting)."""

    def wireguard_listen_host(self) -> str:
        """The host address mitmdump's WireGuard (UDP) server binds to."""
        ...

    def wireguard_endpoint_host(self) -> str:
        """The host address as the device reaches it (``Endpoint`` of the client config);
        raises ConfigError when it cannot be known."""
        ...

    def prepare_wireguard(self, app: AppSpec, endpoint: WireGuardEndpoint, *,
                          clear: bool = True) -> dict[str, Any]:
        """Like :meth:`Target.prepare`, with the tunnel up instead of a proxy setting."""
        ...
