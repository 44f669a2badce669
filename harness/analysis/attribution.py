"""Which SDK made a call: the nearest non-framework stack frame, looked up in an SDK table.

Stacks are innermost first. Frames of the Android/Java framework, Kotlin runtime and the Frida
bridge say nothing about who asked for the data, so they are skipped; the first remaining frame
is the caller. Its package is looked up in ``harness/data/sdk_prefixes.json`` (longest prefix
wins); the app's own package maps to ``app``; anything else is ``unknown: <3-part package>``.
Google Play services (``com.google.android.gms``) is an SDK, not framework, and is not skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from harness.errors import InputError
from harness.resources import data_dir

#: Package prefixes of code that is never "the caller" (platform, runtime, instrumentation).
FRAMEWORK_PREFIXES: tuple[str, ...] = (
    "java.", "javax.", "jdk.", "sun.", "com.sun.", "android.", "androidx.", "com.android.",
    "dalvik.", "kotlin.", "kotlinx.", "libcore.", "org.apache.harmony.", "org.json.",
    "org.xmlpull.", "re.frida.", "frida.", "com.frida.",
)

APP = "app"
UNKNOWN = "unknown"

_FRAME = re.compile(r"^\s*(?:at\s+)?([^\s(]+)(?:\(.*\))?\s*$")


@dataclass(frozen=True, slots=True)
class SdkEntry:
    prefix: str
    name: str
    type: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Attribution:
    sdk: str
    """SDK name, ``app``, ``unknown: <package>``, or ``unknown`` when no frame qualifies."""

    sdk_package: str | None
    """The matched package prefix (the app's package for ``app``)."""

    frame: str | None
    """The stack frame the decision was made on."""


class SdkTable:
    """Package prefix -> SDK, longest prefix first."""

    def __init__(self, entries: Iterable[SdkEntry]) -> None:
        self.entries = sorted(entries, key=lambda e: (-len(e.prefix), e.prefix))

    def lookup(self, qualified_name: str) -> SdkEntry | None:
        for entry in self.entries:
            if _within(qualified_name, entry.prefix):
                return entry
        return None


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def load_sdk_table(path: Path | None = None) -> SdkTable:
    """Read an SDK table (default: the packaged one); bad content is an :class:`InputError`."""
    path = path or data_dir() / "sdk_prefixes.json"
    return _load_cached(path.resolve())


@lru_cache(maxsize=4)
def _load_cached(path: Path) -> SdkTable:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the SDK table ({exc})") from exc
    rows = obj.get("sdks") if isinstance(obj, dict) else None
    if not isinstance(rows, list):
        raise InputError(f'{path}: expected an object with an "sdks" list')
    entries = []
    for i, row in enumerate(rows):
        if not (isinstance(row, dict) and all(isinstance(row.get(k), str)
                                              for k in ("prefix", "name", "type"))):
            raise InputError(f'{path}: sdks[{i}]: expected {{"prefix", "name", "type"}} strings')
        entries.append(SdkEntry(row["prefix"], row["name"], row["type"]))
    return SdkTable(entries)


def frame_name(frame: str) -> str | None:
    """``com.a.B.m(B.java:3)`` -> ``com.a.B.m``; None for frames that are not Java frames."""
    match = _FRAME.match(frame)
    return match.group(1) if match else None


def is_framework(name: str) -> bool:
    return name.startswith(FRAMEWORK_PREFIXES) or "." not in name


def attribute(stack: Sequence[str], app_package: str | None, table: SdkTable) -> Attribution:
    """Attribute one call, given its stack (innermost first)."""
    for frame in stack:
        name = frame_name(frame)
        if name is None or is_framework(name):
            continue
        entry = table.lookup(name)
        in_app = app_package is not None and _within(name, app_package)
        # An SDK prefix more specific than the app's own package still names the SDK
        # (an app id like com.tencent.news bundling com.tencent.bugly is common).
        if entry is not None and (not in_app or len(entry.prefix) > len(app_package or "")):
            return Attribution(sdk=entry.name, sdk_package=entry.prefix, frame=frame)
        if in_app:
            return Attribution(sdk=APP, sdk_package=app_package, frame=frame)
        package = ".".join(name.split(".")[:-2][:3]) or name
        return Attribution(sdk=f"{UNKNOWN}: {package}", sdk_package=package, frame=frame)
    return Attribution(sdk=UNKNOWN, sdk_package=None, frame=None)
