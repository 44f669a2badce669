"""Reading a run directory (the evidence bundle) back: ``manifest.json`` and ``events.jsonl``.

The reader is strict where strictness protects evidence and lenient where a crash is expected:

- a run killed mid-write may end ``events.jsonl`` with a partial line: it is skipped and a warning
  says so (the run is then reported as incomplete);
- a malformed line anywhere else means the file was damaged or edited: :class:`EvidenceError`
  naming the file and line, because silently dropping evidence could hide a finding;
- a missing ``manifest.json`` (the harness died before writing it) is a warning, not an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import EvidenceError
from harness.events import Event

MANIFEST = "manifest.json"
EVENTS = "events.jsonl"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunBundle:
    """The evidence of one run, as read from disk."""

    path: Path
    manifest: dict[str, Any]
    """``manifest.json`` as written by the recorder (empty when it is missing)."""

    events: list[Event]
    """Every complete event, in file order."""

    warnings: list[str] = field(default_factory=list)
    """Problems that did not stop reading (partial last line, missing manifest)."""

    @property
    def status(self) -> str:
        """``complete`` only when the manifest says so and nothing was lost while reading."""
        status = str(self.manifest.get("status") or "incomplete")
        return "incomplete" if self.truncated else status

    @property
    def truncated(self) -> bool:
        return any(w.startswith("truncated:") for w in self.warnings)

    @property
    def app_package(self) -> str | None:
        app = self.manifest.get("app")
        if isinstance(app, dict) and isinstance(app.get("package"), str):
            return str(app["package"])
        return None

    @property
    def t_start(self) -> float | None:
        """Session start on the host timeline: the manifest's, else the first event's time."""
        t_start = self.manifest.get("t_start")
        if isinstance(t_start, int | float) and not isinstance(t_start, bool):
            return float(t_start)
        return self.events[0].t if self.events else None


def load_bundle(run_dir: Path) -> RunBundle:
    """Read ``run_dir``; raises :class:`EvidenceError` when it is not a readable run directory."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise EvidenceError(
            f"{run_dir}: not a run directory (expected a folder with manifest.json and "
            "events.jsonl, as written by `consentry run`); check the path"
        )
    warnings: list[str] = []
    manifest = _read_manifest(run_dir / MANIFEST, warnings)
    events = read_events(run_dir / EVENTS, warnings)
    return RunBundle(path=run_dir, manifest=manifest, events=events, warnings=warnings)


def _read_manifest(path: Path, warnings: list[str]) -> dict[str, Any]:
    if not path.exists():
        warnings.append(f"missing-manifest: {path} does not exist; the run is treated as "
                        "incomplete and times are measured from the first event")
        return {}
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EvidenceError(f"{path}: cannot read the manifest ({exc})") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvidenceError(
            f"{path}: not valid JSON ({exc}); the manifest is damaged, restore it from the "
            "original run directory"
        ) from exc
    if not isinstance(obj, dict):
        raise EvidenceError(f"{path}: expected a JSON object, found {type(obj).__name__}")
    return obj


def read_events(path: Path, warnings: list[str]) -> list[Event]:
    """Parse ``events.jsonl``; a damaged final line is dropped with a warning in ``warnings``."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise EvidenceError(
            f"{path}: missing; a run directory needs the event log the recorder writes"
        ) from exc
    except OSError as exc:
        raise EvidenceError(f"{path}: cannot read the event log ({exc})") from exc
    lines = raw.split(b"\n")
    # The content after the last newline is either empty or a line cut short by a crash.
    last_index = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    ends_cleanly = raw.endswith(b"\n")
    events: list[Event] = []
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        number = index + 1
        try:
            events.append(_parse_line(line))
        except ValueError as exc:
            if index == last_index and not ends_cleanly:
                warnings.append(f"truncated: {path}:{number}: last line is incomplete "
                                f"({len(line)} bytes), skipped; the run was cut short")
                continue
            raise EvidenceError(
                f"{path}:{number}: malformed event ({exc}); expected one JSON object per line "
                'with "seq", "t", "type"; the log is damaged and cannot be analysed safely'
            ) from exc
    return events


def _parse_line(line: bytes) -> Event:
    try:
        obj = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(str(exc)) from exc
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, found {type(obj).__name__}")
    try:
        return Event.from_json(obj)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"missing or bad field {exc}") from exc
