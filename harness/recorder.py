"""The evidence bundle writer: the only code that writes a run directory.

Events are appended to ``events.jsonl`` and flushed as they arrive, from any thread, so a
crash of the app, the device or the harness still leaves the evidence seen so far. The
manifest is written at the start (status ``incomplete``) and rewritten atomically at the end
with the hash of every file; a run killed midway therefore reads as incomplete.

A write failure is never swallowed: it is kept and re-raised by :meth:`Recorder.check`, and
the session fails the run (evidence is sacred).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from harness.errors import EvidenceError
from harness.events import Event
from harness.files import sha256_file, write_atomic

EVENTS_FILE = "events.jsonl"
MANIFEST_FILE = "manifest.json"
SCREENS_DIR = "screens"
# Every write is flushed to the OS at once (a crash of the harness loses nothing); fsync, which
# only guards against the machine itself going down, waits for a non-hook event or this long.
# Per agent batch it cost ~15 us an event, as much as the JSON.
_FSYNC_INTERVAL_S = 0.25


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")




class Recorder:
    """Append-only event log plus manifest for one run directory."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            if (run_dir / EVENTS_FILE).exists():
                raise EvidenceError(
                    f"{run_dir} already holds a run (events.jsonl exists); choose a new --out"
                )
            self._file: TextIO = (run_dir / EVENTS_FILE).open("a", encoding="utf-8")
        except OSError as exc:
            raise EvidenceError(f"cannot create the run directory {run_dir}: {exc}") from exc
        self._lock = threading.Lock()
        self._seq = 0
        self._synced_at = time.monotonic()
        self._screen_count = 0
        self._failure: BaseException | None = None
        self.manifest: dict[str, Any] = {}
        self.counts: dict[str, int] = {}
        self._closed = False
        self.late: dict[str, int] = {}
        """Events recorded after :meth:`close` (a helper thread given up on, finishing late),
        by type: dropped, counted here so the manifest can say so."""

    # -- events ---------------------------------------------------------------------------

    def record(self, type: str, data: dict[str, Any] | None = None, *, t: float | None = None,
               source: str = "host") -> Event:
        """Append one event now; thread-safe. Returns it with its sequence number."""
        return self.record_batch([(type, data, t)], source=source)[0]

    def record_batch(self, items: Sequence[tuple[str, dict[str, Any] | None, float | None]], *,
                     source: str = "host") -> list[Event]:
        """Append events that arrived together (an agent batch: ``(type, data, t)`` each) with
        one write and one flush: as durable as one by one, since they reached the host at
        the same moment, and far cheaper at thousands of events a second."""
        now = time.time()
        with self._lock:
            if self._closed:  # not a write failure: the bundle was complete without it
                for type, _, _ in items:
                    self.late[type] = self.late.get(type, 0) + 1
                return [Event(type=type, t=now if t is None else t, source=source,
                              data=data or {}, seq=0) for type, data, t in items]
            events = []
            sync = False
            for type, data, t in items:
                self._seq += 1
                events.append(Event(type=type, t=now if t is None else t, source=source,
                                    data=data or {}, seq=self._seq))
                self.counts[type] = self.counts.get(type, 0) + 1
                sync = sync or not type.startswith(("hook.", "flow."))
            if self._failure is not None:
                return events
            try:
                self._file.write("".join(event.to_line() + "\n" for event in events))
                self._file.flush()
                if sync or time.monotonic() - self._synced_at >= _FSYNC_INTERVAL_S:
                    os.fsync(self._file.fileno())
                    self._synced_at = time.monotonic()
            except (OSError, ValueError) as exc:
                self._failure = exc
            return events

    def check(self) -> None:
        """Raise if any write failed; the session calls this at every step."""
        if self._failure is not None:
            raise EvidenceError(
                f"writing {self.run_dir / EVENTS_FILE} failed: {self._failure}; "
                "the run's evidence is incomplete"
            ) from self._failure

    # -- screens --------------------------------------------------------------------------

    def save_screen(self, label: str, xml: str | None, png: bytes | None) -> dict[str, str]:
        """Store a screen dump and screenshot; returns their paths relative to the run."""
        with self._lock:
            self._screen_count += 1
            number = self._screen_count
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-")[:60] or "screen"
        screens = self.run_dir / SCREENS_DIR
        paths: dict[str, str] = {}
        try:
            screens.mkdir(exist_ok=True)
            if xml is not None:
                name = f"{number:03d}-{safe}.xml"
                (screens / name).write_text(xml, encoding="utf-8")
                paths["screen"] = f"{SCREENS_DIR}/{name}"
            if png is not None:
                name = f"{number:03d}-{safe}.png"
                (screens / name).write_bytes(png)
                paths["screenshot"] = f"{SCREENS_DIR}/{name}"
        except OSError as exc:
            raise EvidenceError(f"cannot write screen evidence in {screens}: {exc}") from exc
        return paths

    # -- manifest -------------------------------------------------------------------------

    def write_manifest(self, **updates: Any) -> None:
        self.manifest.update(updates)
        write_atomic(self.run_dir / MANIFEST_FILE,
                     json.dumps(self.manifest, ensure_ascii=False, indent=2, sort_keys=True,
                                default=str) + "\n")

    def file_hashes(self) -> dict[str, dict[str, Any]]:
        hashes: dict[str, dict[str, Any]] = {}
        for path in sorted(self.run_dir.rglob("*")):
            rel = path.relative_to(self.run_dir).as_posix()
            if not path.is_file() or rel == MANIFEST_FILE or rel.endswith(".tmp"):
                continue
            hashes[rel] = {"sha256": sha256_file(path), "size": path.stat().st_size}
        return hashes

    def close(self) -> None:
        with self._lock:
            self._closed = True
            try:
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()
            except (OSError, ValueError) as exc:
                if self._failure is None:
                    self._failure = exc
