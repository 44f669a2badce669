"""The hook catalogue: which Java APIs the agent hooks and what each call means.

Kept as data in ``hooks/catalogue/*.yaml`` (see its README for the fields). The same entries
go to the agent (``rpc init``) and to the analysis, so an event's category and data type are
defined in exactly one place.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.resources import catalogue_dir
from harness.yamlfile import LineDict, load_yaml

EVENTS = frozenset({"hook.call", "permission.check", "permission.request", "lifecycle.resume",
                    "lifecycle.pause", "consent.signal"})
FORMATS = frozenset({"string", "location", "package_list", "clip", "bytes_hex", "bytes_mac",
                     "ipv4_int", "permission_result", "none"})
MATCHERS = ("in", "prefix", "contains")
#: Categories hooked only when asked for (``--categories``): the runtime itself calls these
#: methods constantly (a TLS handshake hashes thousands of times), so by default they would
#: cost far more than they tell.
OPT_IN_CATEGORIES = frozenset({"crypto"})
#: Default ``skip_callers`` of entries on ``java.*`` / ``javax.*`` classes: the runtime's
#: own use of its primitives (fonts opening files, the TLS stack hashing, InetAddress's
#: toString) is not something the app did.
RUNTIME_CALLERS = ("java.", "javax.", "jdk.", "sun.", "com.sun.", "libcore.", "dalvik.",
                   "android.", "com.android.", "org.conscrypt.")
_FIELDS = {"id", "class", "method", "overloads", "category", "data_type", "event", "when",
           "record_args", "format", "permissions_arg", "api_level", "notes", "record_this",
           "static", "params", "returns", "skip_callers"}
#: The Java return type a stub declares when the entry does not say, by ``format``.
DEFAULT_RETURNS = {"string": "java.lang.String", "location": "android.location.Location",
                   "package_list": "java.util.List", "clip": "android.content.ClipData",
                   "bytes_hex": "byte[]", "bytes_mac": "byte[]", "ipv4_int": "int",
                   "permission_result": "int", "none": "void"}
_JAVA_NAME = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*(\[\])*$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Condition:
    """Argument ``arg`` (its string form) must equal one of ``values`` / start with one of
    ``prefixes`` / contain one of ``contains``; every matcher given must hold."""

    arg: int
    values: tuple[str, ...] | None = None
    prefixes: tuple[str, ...] | None = None
    contains: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"arg": self.arg}
        for key, value in (("in", self.values), ("prefix", self.prefixes),
                           ("contains", self.contains)):
            if value is not None:
                out[key] = list(value)
        return out

    def example(self) -> str:
        """A string form that satisfies this condition (used by the stub driver)."""
        if self.values:
            return self.values[0]
        text = self.prefixes[0] if self.prefixes else ""
        if self.contains and not any(c in text for c in self.contains):
            text += self.contains[0]
        return text + ("/probe" if text.startswith("content://") else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogueEntry:
    id: str
    class_name: str
    method: str
    overloads: tuple[tuple[str, ...], ...] | None
    """None means every overload."""
    category: str
    data_type: str
    event: str = "hook.call"
    when: tuple[Condition, ...] = ()
    record_args: tuple[int, ...] | None = None
    format: str = "string"
    permissions_arg: int | None = None
    api_level: str = ""
    notes: str = ""
    record_this: bool = False
    """Record the receiver's text form (a URL, a file, a call) as ``this``."""
    skip_callers: tuple[str, ...] = ()
    """Do not record calls whose immediate caller's frame starts with one of these prefixes
    (e.g. the runtime's own TLS stack hashing through MessageDigest)."""
    static: bool = False
    params: tuple[str, ...] | None = None
    """Parameter types of the method a stub declares when ``overloads`` is ``all``."""
    returns: str = ""
    """Java return type (for stub generation); defaults by ``format``."""
    source: str = field(default="", compare=False)
    """file:line the entry came from."""

    @property
    def api(self) -> str:
        return f"{self.class_name}.{self.method}"

    @property
    def return_type(self) -> str:
        return self.returns or DEFAULT_RETURNS[self.format]

    def signatures(self) -> tuple[tuple[str, ...], ...]:
        """The parameter lists a stub of this entry declares."""
        if self.overloads is not None:
            return self.overloads
        return (self.params or (),)

    def to_agent(self) -> dict[str, Any]:
        """The JSON the agent receives (camelCase is not needed: the agent reads these keys)."""
        return {
            "id": self.id,
            "className": self.class_name,
            "method": self.method,
            "overloads": [list(o) for o in self.overloads] if self.overloads is not None else None,
            "category": self.category,
            "dataType": self.data_type,
            "event": self.event,
            "when": [c.to_json() for c in self.when],
            "recordThis": self.record_this,
            "skipCallers": list(self.skip_callers),
            "recordArgs": list(self.record_args) if self.record_args is not None else None,
            "format": self.format,
            "permissionsArg": self.permissions_arg,
        }

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["api"] = self.api
        data["when"] = [c.to_json() for c in self.when]
        return data


@dataclass(frozen=True, slots=True)
class Catalogue:
    entries: tuple[CatalogueEntry, ...]

    def by_id(self) -> dict[str, CatalogueEntry]:
        return {e.id: e for e in self.entries}

    def categories(self) -> list[str]:
        return sorted({e.category for e in self.entries})

    def filter(self, categories: set[str] | None) -> Catalogue:
        """Entries of these categories; None means the default set (all but opt-in ones)."""
        if categories is None:
            return Catalogue(tuple(e for e in self.entries
                                   if e.category not in OPT_IN_CATEGORIES))
        return Catalogue(tuple(e for e in self.entries if e.category in categories))

    def to_agent(self) -> list[dict[str, Any]]:
        return [e.to_agent() for e in self.entries]


def _fail(path: Path, raw: Any, message: str, key: str | None = None) -> ConfigError:
    line = None
    if isinstance(raw, LineDict):
        line = raw.key_lines.get(key, raw.line) if key else raw.line
    where = f"{path}:{line}" if line else str(path)
    return ConfigError(f"{where}: {message}")


def _entry(path: Path, raw: Any) -> CatalogueEntry:
    if not isinstance(raw, dict):
        raise _fail(path, raw, "each catalogue entry must be a mapping with id, class, method, ...")
    unknown = set(raw) - _FIELDS
    if unknown:
        key = sorted(unknown)[0]
        raise _fail(path, raw, f"unknown field {key!r}; expected one of {sorted(_FIELDS)}", key)
    for key in ("id", "class", "method", "category", "data_type"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise _fail(path, raw, f"entry needs a non-empty string {key!r}")
    if not _JAVA_NAME.match(raw["class"]):
        raise _fail(path, raw, f"class {raw['class']!r} is not a Java class name", "class")
    overloads_raw = raw.get("overloads", "all")
    overloads: tuple[tuple[str, ...], ...] | None
    if overloads_raw == "all":
        overloads = None
    elif isinstance(overloads_raw, list) and all(
        isinstance(o, list) and all(isinstance(t, str) and _JAVA_NAME.match(t) for t in o)
        for o in overloads_raw
    ):
        overloads = tuple(tuple(o) for o in overloads_raw)
    else:
        raise _fail(path, raw, "overloads must be 'all' or a list of parameter-type lists, "
                    "e.g. [[], [int]]", "overloads")
    event = raw.get("event", "hook.call")
    if event not in EVENTS:
        raise _fail(path, raw, f"event {event!r} is not one of {sorted(EVENTS)}", "event")
    fmt = raw.get("format", "string")
    if fmt not in FORMATS:
        raise _fail(path, raw, f"format {fmt!r} is not one of {sorted(FORMATS)}", "format")
    conditions = [_condition(path, raw, cond) for cond in raw.get("when") or []]
    params = raw.get("params")
    if params is not None and not (isinstance(params, list) and all(
            isinstance(t, str) and _JAVA_NAME.match(t) for t in params)):
        raise _fail(path, raw, "params must be a list of Java parameter types, e.g. "
                    "[java.lang.String, int]", "params")
    if params is not None and overloads is not None:
        raise _fail(path, raw, "params is for overloads: all; with explicit overloads the "
                    "stub uses those", "params")
    returns = raw.get("returns", "")
    if not isinstance(returns, str) or (returns and returns != "void"
                                        and not _JAVA_NAME.match(returns)):
        raise _fail(path, raw, f"returns {returns!r} is not a Java type", "returns")
    for flag in ("static", "record_this"):
        if not isinstance(raw.get(flag, False), bool):
            raise _fail(path, raw, f"{flag} must be true or false", flag)
    default_skip = list(RUNTIME_CALLERS) if raw["class"].startswith(("java.", "javax.")) else []
    skip_callers = raw.get("skip_callers", default_skip)
    if not (isinstance(skip_callers, list) and all(isinstance(p, str) and p
                                                    for p in skip_callers)):
        raise _fail(path, raw, "skip_callers must be a list of package prefixes",
                    "skip_callers")
    record_args = raw.get("record_args")
    if record_args is not None and not (
        isinstance(record_args, list) and all(isinstance(i, int) for i in record_args)
    ):
        raise _fail(path, raw, "record_args must be a list of argument indices", "record_args")
    permissions_arg = raw.get("permissions_arg")
    if event.startswith("permission.") and not isinstance(permissions_arg, int):
        raise _fail(path, raw, "permission events need permissions_arg (argument index)", "event")
    return CatalogueEntry(
        id=raw["id"], class_name=raw["class"], method=raw["method"], overloads=overloads,
        category=raw["category"], data_type=raw["data_type"], event=event,
        when=tuple(conditions),
        record_args=tuple(record_args) if record_args is not None else None,
        format=fmt, permissions_arg=permissions_arg,
        api_level=str(raw.get("api_level", "")), notes=str(raw.get("notes", "")),
        record_this=bool(raw.get("record_this", False)), static=bool(raw.get("static", False)),
        params=tuple(params) if params is not None else None, returns=returns,
        skip_callers=tuple(skip_callers),
        source=f"{path.name}:{raw.line if isinstance(raw, LineDict) else '?'}",
    )


def _condition(path: Path, raw: Any, cond: Any) -> Condition:
    usage = ("when: each condition is {arg: INDEX, in: [VALUES]} or {arg: INDEX, prefix: "
             "[TEXTS]} or {arg: INDEX, contains: [TEXTS]} (matchers may be combined)")
    if not (isinstance(cond, dict) and isinstance(cond.get("arg"), int)
            and set(cond) - {"arg"} and set(cond) <= {"arg", *MATCHERS}):
        raise _fail(path, raw, usage, "when")
    lists: dict[str, tuple[str, ...] | None] = {}
    for key in MATCHERS:
        value = cond.get(key)
        if value is not None and not (isinstance(value, list) and value):
            raise _fail(path, raw, f"when: {key} must be a non-empty list; {usage}", "when")
        lists[key] = tuple(str(v) for v in value) if value is not None else None
    return Condition(arg=cond["arg"], values=lists["in"], prefixes=lists["prefix"],
                     contains=lists["contains"])


def load_catalogue(directory: Path | None = None) -> Catalogue:
    """Load and validate every ``*.yaml`` in the catalogue folder; ids must be unique."""
    directory = directory or catalogue_dir()
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise ConfigError(f"{directory}: no catalogue files (*.yaml) found")
    entries: list[CatalogueEntry] = []
    seen: dict[str, str] = {}
    for path in files:
        data = load_yaml(path)
        if data is None:
            continue
        if not isinstance(data, list):
            raise ConfigError(f"{path}:1: a catalogue file is a list of entries")
        for raw in data:
            entry = _entry(path, raw)
            if entry.id in seen:
                raise _fail(path, raw, f"duplicate id {entry.id!r} (first in {seen[entry.id]})",
                            "id")
            seen[entry.id] = entry.source
            entries.append(entry)
    return Catalogue(tuple(entries))
