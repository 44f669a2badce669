"""A farm job, and the ``apps.yaml`` list that becomes one job per entry.

``apps.yaml`` is a list of entries::

    - package: com.example.app
      apk: builds/app.apk         # optional: installed first
      scenario: reject            # built-in name or a YAML path, relative to apps.yaml
                                  # (default: accept); checked at submit
      target: android             # android (default) or local
      options: {settle: 3}        # optional, see OPTION_TYPES

A spec is judged across nights by its :attr:`JobSpec.identity` (package, scenario, target),
not by the APK path: a new build of the same app every night is exactly what is compared.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.yamlfile import LineDict, line_of, load_yaml

TARGETS = ("android", "local")
OPTION_TYPES: dict[str, type | tuple[type, ...]] = {
    "settle": (int, float),      # seconds after the last step
    "categories": str,           # catalogue categories, comma-separated
    "clear": bool,               # pm clear before the run (default true)
    "command": str,              # local target: the command line to start
    "variant": str,              # local target, bundled specimen only: its variant
}
ENTRY_KEYS = ("package", "apk", "scenario", "target", "options")
_PACKAGE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$")
_NIGHT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

Identity = tuple[str, str, str]
"""(package, scenario, target): what makes two nights' runs comparable."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSpec:
    """One session to run on some device of the farm."""

    package: str
    """Android package name (the specimen's is ``org.consentry.specimen``)."""
    night: str
    """Label of the night this job belongs to (e.g. ``2026-11-29``)."""
    apk: str | None = None
    """APK to install first, as the worker sees the path (a shared volume); None: installed."""
    scenario: str = "accept"
    """Built-in scenario name or a YAML path."""
    target: str = "android"
    options: dict[str, Any] = field(default_factory=dict)
    """Session options, see :data:`OPTION_TYPES`."""

    def __post_init__(self) -> None:
        problem = validate(self)
        if problem is not None:
            raise ConfigError(problem)

    @property
    def identity(self) -> Identity:
        return (self.package, self.scenario, self.target)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> JobSpec:
        unknown = set(obj) - {"package", "night", "apk", "scenario", "target", "options"}
        if unknown:
            raise ConfigError(f"job spec: unknown fields {sorted(unknown)}")
        return cls(**obj)


def night_problem(night: object) -> str | None:
    if not isinstance(night, str) or not _NIGHT.match(night):
        return (f"night {night!r}: use letters, digits, '.', '_' or '-' "
                "(e.g. 2026-11-29), at most 64 characters")
    return None


def validate(spec: JobSpec) -> str | None:
    """What is wrong with ``spec`` (a sentence saying how to fix it), or None."""
    if not isinstance(spec.package, str) or not _PACKAGE.match(spec.package):
        return (f"package {spec.package!r}: not an Android package name "
                "(dot-separated, e.g. com.example.app)")
    problem = night_problem(spec.night)
    if problem is not None:
        return problem
    if spec.apk is not None and (not isinstance(spec.apk, str) or not spec.apk.endswith(".apk")):
        return f"apk {spec.apk!r}: expected a path to an .apk file"
    if not isinstance(spec.scenario, str) or not spec.scenario.strip():
        return "scenario: expected a built-in scenario name or a YAML path"
    if spec.target not in TARGETS:
        return f"target {spec.target!r}: expected one of {', '.join(TARGETS)}"
    if not isinstance(spec.options, dict):
        return "options: expected a mapping"
    for key, value in spec.options.items():
        expected = OPTION_TYPES.get(key)
        if expected is None:
            return f"options: unknown option {key!r}; known: {', '.join(OPTION_TYPES)}"
        if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
            return f"options.{key}: {value!r} has the wrong type"
        if key == "settle" and isinstance(value, (int, float)) and value < 0:
            return f"options.settle: {value!r} seconds; expected 0 or more"
    if spec.target == "local" and spec.apk is not None:
        return "apk: the local target installs nothing; drop apk or use target android"
    if spec.target == "android" and ("command" in spec.options or "variant" in spec.options):
        return "options.command and options.variant only apply to the local target"
    return None


def _is_path(scenario: str) -> bool:
    # as harness.scenario.loader.resolve tells a file from a built-in name
    return Path(scenario).suffix in (".yaml", ".yml") or "/" in scenario


def submit_problem(spec: JobSpec) -> str | None:
    """What would fail ``spec`` at the worker that can be seen now, at submit: a scenario
    that does not exist or does not parse, unknown categories. Paths are checked on this
    machine; the workers must see the same files (a shared volume), as for APKs."""
    from harness.errors import ScenarioError
    from harness.instrument.catalogue import load_catalogue
    from harness.scenario.loader import load_scenario

    try:
        load_scenario(spec.scenario)
    except ScenarioError as exc:
        return f"scenario: {exc}"
    wanted = spec.options.get("categories")
    if wanted:
        known = set(load_catalogue().categories()) | {"all"}
        unknown = sorted({c.strip() for c in wanted.split(",") if c.strip()} - known)
        if unknown:
            return f"options.categories: unknown {unknown}; known: {sorted(known - {'all'})}"
    return None


def load_apps(path: Path, night: str) -> list[JobSpec]:
    """The jobs of ``apps.yaml`` for ``night``; errors name the file and the entry's line.
    Scenario paths, like APK paths, are relative to ``apps.yaml``'s folder."""
    problem = night_problem(night)
    if problem is not None:
        raise ConfigError(f"--{problem}")
    data = load_yaml(path)
    if data is None:
        raise ConfigError(f"{path}: empty; expected a list of apps (package, apk, scenario)")
    if not isinstance(data, list):
        raise ConfigError(f"{path}:{line_of(data) or 1}: expected a list of apps, one entry "
                          "per app (- package: com.example.app)")
    specs: list[JobSpec] = []
    seen: dict[Identity, int] = {}
    for index, entry in enumerate(data):
        line = data.item_lines[index] if hasattr(data, "item_lines") else None
        where = f"{path}:{line}" if line else str(path)
        if not isinstance(entry, LineDict):
            raise ConfigError(f"{where}: expected a mapping with at least 'package'")
        unknown = [k for k in entry if k not in ENTRY_KEYS]
        if unknown:
            raise ConfigError(f"{path}:{entry.key_lines[unknown[0]]}: unknown key "
                              f"{unknown[0]!r}; known: {', '.join(ENTRY_KEYS)}")
        if "package" not in entry:
            raise ConfigError(f"{where}: missing 'package'")
        fields = {k: entry[k] for k in ENTRY_KEYS if k in entry and entry[k] is not None}
        if isinstance(fields.get("options"), dict):
            fields["options"] = dict(fields["options"])
        if "apk" in fields and isinstance(fields["apk"], str):
            # relative APK paths are relative to apps.yaml, as a reader would expect
            fields["apk"] = str((path.parent / fields["apk"]).resolve())
        if isinstance(fields.get("scenario"), str) and _is_path(fields["scenario"]):
            fields["scenario"] = str((path.parent / fields["scenario"]).resolve())
        try:
            spec = JobSpec(night=night, **fields)
        except ConfigError as exc:
            key = str(exc).split(" ", 1)[0].split(".", 1)[0].rstrip(":")
            raise ConfigError(f"{path}:{line_of(entry, key) or line}: {exc}") from None
        problem = submit_problem(spec)
        if problem is not None:
            top, _, sub = problem.partition(":")[0].partition(".")
            nested = entry.get(top)
            at = ((line_of(nested, sub) if sub and isinstance(nested, LineDict) else None)
                  or line_of(entry, top) or line)
            raise ConfigError(f"{path}:{at}: {problem}")
        if spec.identity in seen:
            raise ConfigError(f"{where}: same package, scenario and target as line "
                              f"{seen[spec.identity]}; nights could not tell the runs apart")
        seen[spec.identity] = line or 0
        specs.append(spec)
    if not specs:
        raise ConfigError(f"{path}: the list of apps is empty")
    return specs
