"""The only module that imports frida: devices, spawn/resume, the agent session, compiling.

Frida errors are mapped to :class:`~harness.errors.InstrumentationError` here, so nothing
above this module needs to know frida's exception classes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import frida

from harness.errors import InstrumentationError, ToolchainError
from harness.targets.base import FridaDeviceRef

log = logging.getLogger(__name__)

MessageHandler = Callable[[dict[str, Any], bytes | None], None]


@contextlib.contextmanager
def map_frida_errors(doing: str) -> Iterator[None]:
    """Turn frida's exceptions into InstrumentationError that say what was being done."""
    try:
        yield
    except frida.ProcessNotFoundError as exc:
        raise InstrumentationError(f"{doing}: the process is gone ({exc})") from exc
    except frida.PermissionDeniedError as exc:
        raise InstrumentationError(
            f"{doing}: permission denied ({exc}); on Linux run as root or set "
            "/proc/sys/kernel/yama/ptrace_scope to 0; on Android frida-server must run as root"
        ) from exc
    except (frida.ServerNotRunningError, frida.TransportError) as exc:
        raise InstrumentationError(
            f"{doing}: cannot reach frida-server ({exc}); is it running on the device?"
        ) from exc
    except frida.InvalidOperationError as exc:
        raise InstrumentationError(f"{doing}: {exc}") from exc
    except frida.InvalidArgumentError as exc:
        raise InstrumentationError(f"{doing}: {exc}") from exc
    except frida.NotSupportedError as exc:
        raise InstrumentationError(f"{doing}: not supported here ({exc})") from exc
    except frida.TimedOutError as exc:
        raise InstrumentationError(f"{doing}: timed out ({exc})") from exc
    except frida.ProtocolError as exc:
        # e.g. "the connection is closed": attaching while Frida tears down the process's
        # agent (the app exiting, or the fork bug unloading it).
        raise InstrumentationError(f"{doing}: {exc}") from exc


def frida_version() -> str:
    return str(frida.__version__)


def get_device(ref: FridaDeviceRef) -> Any:
    with map_frida_errors(f"opening the Frida {ref.kind} device"):
        if ref.kind == "local":
            return frida.get_local_device()
        if ref.kind == "usb":
            if ref.serial:
                return frida.get_device(ref.serial, timeout=10)
            return frida.get_usb_device(timeout=10)
        if ref.kind == "remote":
            return frida.get_device_manager().add_remote_device(ref.serial or "127.0.0.1:27042")
    raise InstrumentationError(f"unknown Frida device kind {ref.kind!r}")


def spawn(ref: FridaDeviceRef, program: str | list[str], *, env: dict[str, str] | None = None,
          cwd: str | None = None) -> int:
    """Start a program (or Android package) suspended; it runs nothing before :func:`resume`."""
    device = get_device(ref)
    options: dict[str, Any] = {}
    if env is not None:
        options["env"] = env
    if cwd is not None:
        options["cwd"] = cwd
    with map_frida_errors(f"spawning {program!r}"):
        return int(device.spawn(program, **options))


def resume(ref: FridaDeviceRef, pid: int) -> None:
    with map_frida_errors(f"resuming pid {pid}"):
        get_device(ref).resume(pid)


def kill(ref: FridaDeviceRef, pid: int) -> None:
    with map_frida_errors(f"killing pid {pid}"):
        get_device(ref).kill(pid)


@dataclass(frozen=True, slots=True)
class ChildInfo:
    """A process the instrumented app created, held suspended by child gating."""

    pid: int
    parent_pid: int | None
    """None for a process zygote started (spawn gating): its parent is not the app."""
    origin: str
    """``fork``, ``exec`` or ``spawn``."""
    identifier: str | None
    path: str | None
    argv: list[str] | None


def watch_children(ref: FridaDeviceRef, on_child: Callable[[ChildInfo], None]
                   ) -> Callable[[], None]:
    """Call ``on_child`` (on Frida's thread: hand work off, do not block) for every gated
    child of any session with child gating on. Returns the function that stops watching."""
    device = get_device(ref)

    def added(child: Any) -> None:
        argv = getattr(child, "argv", None)
        on_child(ChildInfo(pid=int(child.pid), parent_pid=int(child.parent_pid),
                           origin=str(child.origin), identifier=child.identifier,
                           path=child.path, argv=list(argv) if argv is not None else None))

    device.on("child-added", added)

    def stop() -> None:
        with contextlib.suppress(frida.InvalidOperationError, frida.TransportError):
            device.off("child-added", added)

    return stop


@dataclass(frozen=True, slots=True)
class SpawnInfo:
    """A process held at birth by device-wide spawn gating."""

    pid: int
    identifier: str | None
    """On Android the process name zygote gives it, such as ``com.example:push``."""


class FridaSpawnGate:
    """Device-wide spawn gating (Android: frida-server's zygote hook): every new process on
    the device is held at birth until resumed, so whoever enables it must resume them all.

    Frida 17.26's local Linux device does not support it (enable raises "no such file or
    directory"); forked children are followed with child gating instead."""

    def __init__(self, ref: FridaDeviceRef) -> None:
        self._device = get_device(ref)

    def enable(self) -> None:
        with map_frida_errors("enabling spawn gating"):
            self._device.enable_spawn_gating()

    def disable(self) -> None:
        """Stop gating; frida-server resumes what it still holds."""
        with map_frida_errors("disabling spawn gating"):
            self._device.disable_spawn_gating()

    def pending(self) -> list[SpawnInfo]:
        with map_frida_errors("listing held spawns"):
            return [SpawnInfo(pid=int(s.pid), identifier=s.identifier)
                    for s in self._device.enumerate_pending_spawn()]

    def resume(self, pid: int) -> None:
        with map_frida_errors(f"resuming spawned pid {pid}"):
            self._device.resume(pid)

    def on_spawn(self, callback: Callable[[SpawnInfo], None]) -> Callable[[], None]:
        """Call ``callback`` (on Frida's thread: hand work off) for each held spawn; returns
        the function that stops."""
        def added(spawn: Any) -> None:
            callback(SpawnInfo(pid=int(spawn.pid), identifier=spawn.identifier))

        self._device.on("spawn-added", added)

        def stop() -> None:
            with contextlib.suppress(frida.InvalidOperationError, frida.TransportError):
                self._device.off("spawn-added", added)

        return stop


def compile_agent(entrypoint: Path, project_root: Path) -> str:
    """Bundle the TypeScript agent (and frida-java-bridge) with frida's built-in compiler."""
    compiler = frida.Compiler()  # type: ignore[no-untyped-call]
    diagnostics: list[str] = []

    def on_diagnostics(items: Any) -> None:
        for item in items:
            where = item.get("file") or {}
            line, column = where.get("line"), where.get("character")
            # TypeScript counts lines and columns from 0; editors count from 1.
            position = (f"{line + 1}:{column + 1}" if isinstance(line, int)
                        and isinstance(column, int) else "?")
            diagnostics.append(f"{where.get('path', '?')}:{position}: {item.get('text', item)}")

    compiler.on("diagnostics", on_diagnostics)
    try:
        return str(compiler.build(str(entrypoint.relative_to(project_root)),
                                  project_root=str(project_root)))
    except frida.InvalidArgumentError as exc:
        detail = "\n".join(diagnostics) or str(exc)
        if "frida-java-bridge" in detail:
            raise ToolchainError(
                f"the agent needs its npm dependencies: run `npm ci --prefix {project_root}`\n"
                f"{detail}"
            ) from exc
        raise ToolchainError(f"the Frida agent does not compile:\n{detail}") from exc


ScriptRuntime = Literal["qjs", "v8"]
SCRIPT_RUNTIMES: tuple[ScriptRuntime, ...] = ("qjs", "v8")


class AgentSession:
    """A Frida session attached to one process with the agent script loaded."""

    def __init__(self, ref: FridaDeviceRef, pid: int) -> None:
        self.pid = pid
        self._detached_reason: str | None = None
        self._detached_event = threading.Event()
        self._on_detached: Callable[[str], None] | None = None
        device = get_device(ref)
        with map_frida_errors(f"attaching to pid {pid}"):
            self._session = device.attach(pid)
        self._session.on("detached", self._detached)
        self._script: Any = None
        self.script_runtime: str | None = None
        """The JavaScript runtime the agent runs on (``qjs`` or ``v8``)."""

    def _detached(self, reason: str, crash: Any = None) -> None:
        self._detached_reason = str(reason)
        if crash is not None:
            self._detached_reason += f" (crash: {getattr(crash, 'summary', crash)})"
        if self._on_detached is not None:
            self._on_detached(self._detached_reason)
        self._detached_event.set()

    def wait_detached(self, timeout: float) -> bool:
        """Wait for Frida to report the end of the session (it comes after the agent's last
        message, so everything the process sent has been delivered). True when it ended."""
        return self._detached_event.wait(timeout)

    @property
    def detached_reason(self) -> str | None:
        return self._detached_reason

    def enable_child_gating(self) -> None:
        with map_frida_errors("enabling child gating"):
            self._session.enable_child_gating()

    def load(self, source: str, on_message: MessageHandler,
             on_detached: Callable[[str], None] | None = None, *,
             runtime: ScriptRuntime = "qjs") -> None:
        """Load the agent on ``runtime``: QuickJS by default. Measured here (Frida 17.26.2): on
        V8, attaching to a forked child never ended the parent's session (0 of 75 runs; on
        QuickJS 12-40%: a frida-core bug, see tests/bench/fork_repro.py, which the
        instrumenter recovers from by re-attaching), but Java hooks slowed from ~10,000 to
        ~330 calls/s on HotSpot."""
        self._on_detached = on_detached
        with map_frida_errors(f"loading the agent into pid {self.pid} ({runtime})"):
            self._script = self._session.create_script(source, name="consentry",
                                                       runtime=runtime)
            self.script_runtime = runtime
            self._script.on("message", lambda message, data: on_message(message, data))
            self._script.load()

    def call(self, method: str, *args: Any) -> Any:
        if self._script is None:
            raise InstrumentationError("the agent is not loaded")
        with map_frida_errors(f"agent rpc {method}"):
            try:
                return getattr(self._script.exports_sync, method)(*args)
            except frida.core.RPCException as exc:
                raise InstrumentationError(f"agent rpc {method} failed: {exc}") from exc

    def detach(self) -> None:
        if self._detached_reason is not None:
            return
        with contextlib.suppress(frida.InvalidOperationError, frida.ProcessNotFoundError,
                                 frida.TransportError):
            if self._script is not None:
                self._script.unload()
        with contextlib.suppress(frida.InvalidOperationError, frida.ProcessNotFoundError,
                                 frida.TransportError):
            self._session.detach()
