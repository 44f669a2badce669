"""``mitmdump`` with the consentry addon, as a child process the session starts before the app.

mitmproxy's event loop stays in its own process; this module only launches it, waits for the
addon's ``CONSENTRY-READY`` line, and reads ``CONSENTRY-FLOW`` lines on a thread, handing each
payload to ``on_flow`` as it arrives. Anything else mitmdump prints goes to ``mitmdump.log``.
If mitmdump dies while the session runs, ``on_error`` is called: evidence may be missing, so
the session must fail loudly and mark the run incomplete.

Two capture modes:

* ``regular`` (default): an HTTP(S) proxy; the target points the device's proxy setting at it.
* ``wireguard``: ``mitmdump --mode wireguard@PORT``, a WireGuard server (UDP) for apps that
  ignore the proxy setting (Flutter, many games, native HTTP stacks). mitmproxy creates the key
  pair in ``confdir/wireguard.conf`` and the client configuration, which the addon reports and
  :attr:`MitmdumpProcess.wireguard_config` exposes; import it into the WireGuard app on the
  device (``wg-quick`` syntax; route 0.0.0.0/0 through the tunnel). WireGuard is UDP, which
  ``adb reverse`` cannot carry: the device must reach the host over the network, so listen on
  an address it can reach (``listen_host="0.0.0.0"``) and give that address with
  :meth:`MitmdumpProcess.wireguard_client_config` (``endpoint_host``; the Android emulator
  reaches its host as ``10.0.2.2``). The device must trust the mitmproxy CA as in regular mode.
"""

from __future__ import annotations

import collections
import importlib.metadata
import importlib.util
import json
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

from harness.capture.protocol import FLOW_PREFIX, READY_PREFIX, parse_resolve
from harness.errors import CaptureError, ConfigError, EvidenceError, ToolchainError

FLOWS_FILE = "flows.mitm"
LOG_FILE = "mitmdump.log"
ADDON_PATH = Path(__file__).with_name("addon.py")
STOP_GRACE_SECONDS = 10.0
OUTPUT_TAIL_LINES = 20
WIREGUARD_PREFIX = "CONSENTRY-WIREGUARD "
CaptureMode = Literal["regular", "wireguard"]
MODES: tuple[str, ...] = ("regular", "wireguard")
WIREGUARD_PORT = 51820
"""mitmproxy's own default; a fixed port keeps a hand-imported client config valid across runs."""

log = logging.getLogger(__name__)


def mitmdump_command() -> list[str]:
    """The mitmdump of this interpreter's environment (the one that can import ``harness``)."""
    if importlib.util.find_spec("mitmproxy") is None:
        raise ToolchainError(f"mitmproxy is not installed for {sys.executable}; "
                             "run: pip install mitmproxy")
    script = Path(sys.executable).with_name("mitmdump")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from mitmproxy.tools.main import mitmdump; mitmdump()"]


class MitmdumpProcess:
    """A running ``mitmdump -s addon.py`` bound to loopback; use as a context manager.

    ``on_flow`` and ``on_error`` are called on the reader thread.
    """

    def __init__(self, run_dir: Path, *, listen_host: str = "127.0.0.1", listen_port: int = 0,
                 confdir: Path | None = None, resolve: Sequence[str] = (),
                 ssl_insecure: bool = False, on_flow: Callable[[dict[str, Any]], None],
                 on_error: Callable[[str], None], mode: CaptureMode = "regular") -> None:
        if mode not in MODES:
            raise ConfigError(f"capture mode {mode!r} is not supported; use one of "
                              f"{', '.join(MODES)}")
        self.mode: CaptureMode = mode
        self._wireguard_config: str | None = None
        self.run_dir = Path(run_dir)
        self.listen_host = listen_host
        self.listen_port = listen_port
        self.confdir = Path(confdir) if confdir is not None else Path.home() / ".mitmproxy"
        self.resolve = list(resolve)
        self.ssl_insecure = ssl_insecure
        self._on_flow = on_flow
        self._on_error = on_error
        self._proc: subprocess.Popen[bytes] | None = None
        self._address: tuple[str, int] | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._stop_requested = False
        self._stopped = False
        self._flows = 0
        self._errors: list[str] = []
        self._output_tail: collections.deque[str] = collections.deque(maxlen=OUTPUT_TAIL_LINES)
        self._log: IO[str] | None = None
        self._threads: list[threading.Thread] = []

    @property
    def flows_path(self) -> Path:
        return self.run_dir / FLOWS_FILE

    @property
    def log_path(self) -> Path:
        return self.run_dir / LOG_FILE

    @property
    def address(self) -> tuple[str, int]:
        """The bound ``(host, port)``, as reported by the addon."""
        if self._address is None:
            raise CaptureError("mitmdump is not running; call start() first")
        return self._address

    @property
    def port(self) -> int:
        return self.address[1]

    @property
    def ca_cert_path(self) -> Path:
        """The mitmproxy CA certificate (PEM) a client must trust; created by start()."""
        return self.confdir / "mitmproxy-ca-cert.pem"

    @property
    def mitmproxy_version(self) -> str:
        return importlib.metadata.version("mitmproxy")

    @property
    def flows_seen(self) -> int:
        return self._flows

    @property
    def errors(self) -> list[str]:
        """Every message passed to ``on_error`` so far; empty means the capture is whole."""
        return list(self._errors)

    @property
    def wireguard_config(self) -> str:
        """The WireGuard client configuration mitmproxy generated (``wireguard`` mode)."""
        if self._wireguard_config is None:
            raise CaptureError("no WireGuard client configuration: start mitmdump with "
                               "mode='wireguard' first")
        return self._wireguard_config

    def wireguard_client_config(self, endpoint_host: str | None = None) -> str:
        """:attr:`wireguard_config`, with ``Endpoint`` set to the address the device uses to
        reach this host (e.g. ``10.0.2.2`` from the emulator)."""
        config = self.wireguard_config
        if endpoint_host is None:
            return config
        host = f"[{endpoint_host}]" if ":" in endpoint_host else endpoint_host  # IPv6 literal
        lines = [f"Endpoint = {host}:{self.port}" if line.startswith("Endpoint")
                 else line for line in config.splitlines()]
        return "\n".join(lines) + "\n"

    def _mode_args(self) -> list[str]:
        if self.mode == "regular":
            return ["--listen-port", str(self.listen_port)]
        # mitmproxy writes the port into the client configuration: it must be the real one
        port = self.listen_port or free_udp_port(self.listen_host)
        return ["--mode", f"wireguard@{port}"]

    def command(self) -> list[str]:
        cmd = [*mitmdump_command(), "-s", str(ADDON_PATH),
               "--listen-host", self.listen_host, *self._mode_args(),
               "--set", f"confdir={self.confdir}",
               "--set", f"consentry_flows={self.flows_path}",
               "--set", "flow_detail=0", "--set", "termlog_verbosity=warn"]
        for entry in self.resolve:
            cmd += ["--set", f"consentry_resolve={entry}"]
        if self.ssl_insecure:
            cmd += ["--set", "ssl_insecure=true"]
        return cmd

    def start(self, timeout: float = 30.0) -> None:
        """Launch mitmdump and return once it listens; CaptureError if it does not."""
        if self._proc is not None:
            raise CaptureError("this MitmdumpProcess was already started; create a new one")
        try:
            parse_resolve(self.resolve)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        cmd = self.command()
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("a", encoding="utf-8")
        except OSError as exc:
            raise EvidenceError(f"cannot write {self.log_path}: {exc}; "
                                "use a writable run directory") from exc
        log.debug("starting %s", " ".join(cmd))
        try:
            # Own session: a Ctrl-C in the terminal reaches the harness, which stops mitmdump in
            # order (after the app) so the last flows are written.
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            raise ToolchainError(f"cannot run {cmd[0]}: {exc}; run: pip install mitmproxy") from exc
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._threads = [
            threading.Thread(target=self._read_stdout, args=(self._proc.stdout,),
                             name="mitmdump-stdout", daemon=True),
            threading.Thread(target=self._read_stderr, args=(self._proc.stderr,),
                             name="mitmdump-stderr", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self._abort_start(timeout)

    def _abort_start(self, timeout: float) -> None:
        assert self._proc is not None
        exited = self._proc.poll() is not None
        with self._lock:
            self._stop_requested = True
        if not exited:
            self._proc.kill()
        self._proc.wait()
        self._join_readers()
        self._close_log()
        self._stopped = True
        what = (f"exited with code {self._proc.returncode}" if exited
                else f"did not report ready within {timeout:g}s")
        raise CaptureError(f"mitmdump {what}; nothing can be captured. {self._tail()}"
                           f"Full log: {self.log_path}")

    def _tail(self) -> str:
        lines = list(self._output_tail)
        return ("mitmdump said:\n  " + "\n  ".join(lines) + "\n") if lines else ""

    def _write_log(self, line: str) -> None:
        with self._lock:
            if self._log is not None:
                self._log.write(line + "\n")
                self._log.flush()

    def _read_stderr(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self._output_tail.append(line)
            self._write_log(line)

    def _read_stdout(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line.startswith(FLOW_PREFIX):
                self._handle_flow(line[len(FLOW_PREFIX):])
            elif line.startswith(WIREGUARD_PREFIX):
                self._wireguard_config = str(json.loads(line[len(WIREGUARD_PREFIX):]))
                self._write_log(line)
            elif line.startswith(READY_PREFIX) and not self._ready.is_set():
                host, _, port = line[len(READY_PREFIX):].rpartition(":")
                self._address = (host, int(port))
                self._ready.set()
                self._write_log(line)
            else:  # mitmproxy's own log lines (termlog writes errors to stdout, too)
                self._output_tail.append(line)
                self._write_log(line)
        self._on_exit()

    def _handle_flow(self, text: str) -> None:
        try:
            payload = json.loads(text)
            if not isinstance(payload, dict):
                raise ValueError(f"expected a JSON object, got {type(payload).__name__}")
        except ValueError as exc:
            self._write_log(FLOW_PREFIX + text)
            self._report(f"mitmdump sent an unreadable flow record ({exc}); "
                         f"the flow is in {self.flows_path} but not on the timeline")
            return
        self._flows += 1
        try:
            self._on_flow(payload)
        except Exception as exc:  # the recorder failed: evidence is missing, say so
            log.exception("recording flow %s failed", payload.get("id"))
            self._report(f"recording flow {payload.get('id')} ({payload.get('url')}) failed: "
                         f"{exc}")

    def _on_exit(self) -> None:
        assert self._proc is not None
        code = self._proc.wait()
        with self._lock:
            expected = self._stop_requested
        if expected or not self._ready.is_set():
            return  # stopped by us, or start() reports it as a CaptureError
        # Let stderr drain so the report carries mitmdump's last words.
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        self._report(f"mitmdump exited unexpectedly (exit code {code}) after {self._flows} "
                     f"flows; later traffic was not captured. {self._tail()}"
                     f"Full log: {self.log_path}")

    def _report(self, message: str) -> None:
        self._errors.append(message)
        self._write_log(f"consentry: {message}")
        try:
            self._on_error(message)
        except Exception:
            log.exception("on_error callback failed for: %s", message)

    def _join_readers(self) -> None:
        for thread in self._threads:
            thread.join(timeout=STOP_GRACE_SECONDS)

    def stop(self) -> int:
        """Stop gracefully (in-flight flows are written), drain the reader, return flows seen."""
        if self._proc is None or self._stopped:
            return self._flows
        with self._lock:
            # A process that already died was not stopped by us: the reader reports it.
            self._stop_requested = self._proc.poll() is None
        if self._stop_requested:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                log.warning("mitmdump ignored SIGINT for %ss; killing it", STOP_GRACE_SECONDS)
                self._proc.kill()
                self._proc.wait()
        self._join_readers()
        self._close_log()
        self._stopped = True
        return self._flows

    def _close_log(self) -> None:
        with self._lock:
            if self._log is not None:
                self._log.close()
                self._log = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode if self._proc is not None else None

    def __enter__(self) -> MitmdumpProcess:
        if self._proc is None:
            self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def free_udp_port(host: str) -> int:
    """A UDP port free on ``host`` right now (mitmproxy must know its port before binding)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


__all__ = ["MitmdumpProcess", "mitmdump_command", "free_udp_port", "CaptureMode", "FLOWS_FILE",
           "LOG_FILE", "MODES", "WIREGUARD_PORT", "WIREGUARD_PREFIX"]
