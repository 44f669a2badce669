"""A child process that announces a control channel on stdout (``CONSENTRY-CONTROL host:port``),
with its stdout and stderr drained into a log file by threads so it can never block on a
full pipe, and the tail of stderr kept for error messages."""

from __future__ import annotations

import collections
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import IO

from harness.errors import HarnessError, ToolchainError

CONTROL_PREFIX = "CONSENTRY-CONTROL "


class ControlledProcess:
    def __init__(self, popen: subprocess.Popen[bytes], log_path: Path) -> None:
        self.popen = popen
        self.log_path = log_path
        self._log = log_path.open("a", encoding="utf-8")
        self._log_lock = threading.Lock()
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=40)
        self._address: str | None = None
        self._announced = threading.Event()
        self._threads = [
            threading.Thread(target=self._drain, args=(popen.stdout, "stdout"), daemon=True,
                             name=f"drain-stdout-{popen.pid}"),
            threading.Thread(target=self._drain, args=(popen.stderr, "stderr"), daemon=True,
                             name=f"drain-stderr-{popen.pid}"),
        ]
        for thread in self._threads:
            thread.start()

    @classmethod
    def start(cls, argv: list[str], *, env: dict[str, str], log_path: Path,
              cwd: Path | None = None, timeout: float = 60.0) -> ControlledProcess:
        """Start ``argv`` and wait for its control-channel line (a HarnessError if none comes)."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            popen = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except FileNotFoundError as exc:
            raise ToolchainError(
                f"cannot start {argv[0]}: not found; for the specimen install a JDK 17 "
                f"(e.g. `apt-get install openjdk-17-jdk-headless`)"
            ) from exc
        process = cls(popen, log_path)
        process._await_address(timeout)
        return process

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def address(self) -> str:
        if self._address is None:
            raise HarnessError(f"process {self.pid} never announced its control channel")
        return self._address

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stderr_tail(self) -> str:
        return "\n".join(self._stderr_tail)

    def wait(self, timeout: float) -> int | None:
        """The exit code, or None if still running after ``timeout`` seconds."""
        try:
            code = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._finish_drain()
        return code

    def end(self, grace: float = 5.0) -> int:
        """Terminate, then kill if needed; returns the exit code."""
        if self.alive():
            self.popen.terminate()
            if self.wait(grace) is None:
                self.popen.kill()
        code = self.popen.wait()
        self._finish_drain()
        return code

    def _await_address(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._announced.wait(0.05):
            if not self.alive() or time.monotonic() > deadline:
                self._announced.wait(0.5)  # the line may still be in the pipe
                if self._address is not None:
                    return
                why = (f"exited with code {self.popen.returncode}" if not self.alive()
                       else f"did not announce its control channel within {timeout:.0f}s")
                self.end(grace=2.0)
                raise HarnessError(
                    f"the app process {why} (expected a line '{CONTROL_PREFIX}host:port' on "
                    f"stdout; log: {self.log_path}). Its stderr ended with:\n"
                    f"{self.stderr_tail() or '(nothing)'}"
                )

    def _drain(self, stream: IO[bytes] | None, name: str) -> None:
        if stream is None:
            return
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if name == "stdout" and self._address is None and line.startswith(CONTROL_PREFIX):
                self._address = line[len(CONTROL_PREFIX):].strip()
                self._announced.set()
            if name == "stderr":
                self._stderr_tail.append(line)
            with self._log_lock:
                if not self._log.closed:
                    self._log.write(f"{time.time():.3f} [{name}] {line}\n")
                    self._log.flush()
        stream.close()

    def _finish_drain(self) -> None:
        for thread in self._threads:
            thread.join(timeout=5)
        with self._log_lock:
            if not self._log.closed:
                self._log.close()


def pid_alive(pid: int) -> bool:
    """Whether a process we did not start ourselves still runs (zombies count as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"
