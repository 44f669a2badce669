"""Reading scenario files: every mistake is reported with the file, the line and what was
expected. Built-in scenarios are found by name (``accept``), other files by path."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from harness.errors import ScenarioError
from harness.resources import scenarios_dir
from harness.scenario.model import Scenario, Selector, Step
from harness.yamlfile import LineDict, LineList, loads_yaml

_NO_ARG = {"launch", "back", "home", "restart"}
_SECONDS = {"wait", "background"}
_SELECTOR_KEYS = {"text", "resource_id", "text_contains"}
_STEP_HELP = ("expected one of: launch, wait: SECONDS, wait_for: {text|resource_id|text_contains, "
              "timeout}, click: {text|resource_id|text_contains} or {x, y}, back, home, "
              "background: SECONDS, restart, press: KEY, screenshot: LABEL, "
              "consent: accept|reject (or {action, text|resource_id}), permission: allow|deny, "
              "explore: {seconds, max_clicks}")
_POLICIES = ("allow", "deny", "ask")
_OPTIONS = {"permissions"}
KEYS = {"back", "home", "enter", "menu", "recent"}


def builtin_names() -> list[str]:
    return sorted(p.stem for p in scenarios_dir().glob("*.yaml"))


def resolve(name_or_path: str) -> Path:
    """A built-in scenario name (``accept``) or a path to a YAML file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ScenarioError(f"scenario file {path} does not exist")
        return path
    builtin = scenarios_dir() / f"{name_or_path}.yaml"
    if builtin.is_file():
        return builtin
    raise ScenarioError(
        f"no scenario named {name_or_path!r}; built-in scenarios: {', '.join(builtin_names())}"
        " (or give a path to a .yaml file)"
    )


def load_scenario(name_or_path: str) -> Scenario:
    path = resolve(name_or_path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"cannot read ({exc.strerror})", path=str(path)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError("is not UTF-8 text", path=str(path)) from None
    scenario = parse_scenario(text, str(path))
    return Scenario(name=scenario.name, steps=scenario.steps, path=str(path),
                    description=scenario.description,
                    sha256=hashlib.sha256(raw).hexdigest(), options=scenario.options)


def _description(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
        if line.strip():
            break
    return ""


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    try:
        data = loads_yaml(text, source, ScenarioError)
    except ScenarioError as exc:
        raise ScenarioError(str(exc)) from None
    if not isinstance(data, LineDict):
        raise ScenarioError("a scenario is a mapping with 'name' and 'steps'", path=source, line=1)
    unknown = set(data) - {"name", "description", "steps", "options"}
    if unknown:
        key = sorted(unknown)[0]
        raise ScenarioError(f"unknown key {key!r}; expected name, description, steps, options",
                            path=source, line=data.key_lines[key])
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ScenarioError("'name' must be a non-empty string", path=source,
                            line=data.key_lines.get("name", data.line))
    steps_raw = data.get("steps")
    if not isinstance(steps_raw, LineList) or not steps_raw:
        raise ScenarioError("'steps' must be a non-empty list of steps", path=source,
                            line=data.key_lines.get("steps", data.line))
    steps = tuple(_step(item, line, source) for item, line in zip(steps_raw,
                                                                   steps_raw.item_lines,
                                                                   strict=True))
    options = data.get("options") or {}
    if not isinstance(options, dict):
        raise ScenarioError("'options' must be a mapping", path=source,
                            line=data.key_lines.get("options"))
    _check_options(options, source, data.key_lines.get("options", data.line))
    return Scenario(name=name, steps=steps, path=source,
                    description=str(data.get("description") or _description(text)),
                    options=dict(options))


def _check_options(options: dict[str, Any], source: str, line: int) -> None:
    unknown = set(options) - _OPTIONS
    if unknown:
        raise ScenarioError(f"options: unknown key {sorted(unknown)[0]!r}; expected "
                            f"{', '.join(sorted(_OPTIONS))}", path=source, line=line)
    policy = options.get("permissions", "deny")
    if policy not in _POLICIES:
        raise ScenarioError(f"options: permissions must be one of {', '.join(_POLICIES)} (how "
                            f"runtime-permission dialogs are answered), got {policy!r}",
                            path=source, line=line)


def _explore(value: Any, source: str, line: int) -> Step:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = {"seconds": value}
    if not isinstance(value, dict) or "seconds" not in value or set(value) - {"seconds",
                                                                               "max_clicks"}:
        raise ScenarioError("explore: expected {seconds: N, max_clicks: M} (max_clicks "
                            "optional, default 20)", path=source, line=line)
    seconds = _number(value["seconds"], "explore seconds", source, line)
    clicks = value.get("max_clicks", 20)
    if isinstance(clicks, bool) or not isinstance(clicks, int) or clicks < 1:
        raise ScenarioError(f"explore: max_clicks must be a whole number >= 1, got {clicks!r}",
                            path=source, line=line)
    return Step(kind="explore", line=line, seconds=seconds, max_clicks=clicks)


def _number(value: Any, what: str, source: str, line: int) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ScenarioError(f"{what}: expected a number of seconds >= 0, got {value!r}",
                            path=source, line=line)
    return float(value)


def _selector(value: Any, kind: str, source: str, line: int,
              extra: frozenset[str] = frozenset()) -> tuple[Selector, dict[str, Any]]:
    if isinstance(value, str):
        return Selector(text=value), {}
    if not isinstance(value, dict):
        raise ScenarioError(f"{kind}: expected a selector mapping such as {{text: \"同意\"}} or "
                            "{resource_id: \"com.app:id/agree\"}", path=source, line=line)
    unknown = set(value) - _SELECTOR_KEYS - extra
    if unknown:
        raise ScenarioError(f"{kind}: unknown key {sorted(unknown)[0]!r}; expected "
                            f"{', '.join(sorted(_SELECTOR_KEYS | extra))}", path=source, line=line)
    fields = {k: value[k] for k in _SELECTOR_KEYS if k in value}
    for key, field_value in fields.items():
        if not isinstance(field_value, str) or not field_value:
            raise ScenarioError(f"{kind}: {key} must be a non-empty string", path=source,
                                line=line)
    rest = {k: value[k] for k in extra if k in value}
    return Selector(**fields), rest


def _step(item: Any, line: int, source: str) -> Step:
    if isinstance(item, str):
        if item in _NO_ARG:
            return Step(kind=item, line=line)  # type: ignore[arg-type]
        raise ScenarioError(f"unknown step {item!r}; {_STEP_HELP}", path=source, line=line)
    if not isinstance(item, dict) or len(item) != 1:
        raise ScenarioError(f"a step is a name or a one-key mapping; {_STEP_HELP}", path=source,
                            line=line)
    kind, value = next(iter(item.items()))
    if kind in _NO_ARG:
        raise ScenarioError(f"{kind} takes no argument; write '- {kind}'", path=source, line=line)
    if kind in _SECONDS:
        return Step(kind=kind, line=line, seconds=_number(value, kind, source, line))
    if kind == "wait_for":
        selector, rest = _selector(value, kind, source, line, frozenset({"timeout"}))
        if not selector.describe():
            raise ScenarioError("wait_for needs text, resource_id or text_contains", path=source,
                                line=line)
        timeout = _number(rest.get("timeout", 20), "timeout", source, line)
        return Step(kind="wait_for", line=line, selector=selector, timeout=timeout)
    if kind == "click":
        if isinstance(value, dict) and {"x", "y"} <= set(value):
            x, y = value["x"], value["y"]
            if not (isinstance(x, int) and isinstance(y, int)) or set(value) - {"x", "y"}:
                raise ScenarioError("click: {x, y} must be two integers", path=source, line=line)
            return Step(kind="click", line=line, point=(x, y))
        selector, rest = _selector(value, kind, source, line, frozenset({"timeout"}))
        timeout = _number(rest.get("timeout", 10), "timeout", source, line)
        return Step(kind="click", line=line, selector=selector, timeout=timeout)
    if kind == "explore":
        return _explore(value, source, line)
    if kind == "press":
        if value not in KEYS:
            raise ScenarioError(f"press: expected one of {', '.join(sorted(KEYS))}, got {value!r}",
                                path=source, line=line)
        return Step(kind="press", line=line, action=str(value))
    if kind == "screenshot":
        if not isinstance(value, str) or not value:
            raise ScenarioError("screenshot: expected a label", path=source, line=line)
        return Step(kind="screenshot", line=line, action=value)
    if kind in ("consent", "permission"):
        allowed = ("accept", "reject") if kind == "consent" else ("allow", "deny")
        action = value
        chosen: Selector | None = None
        timeout = 30.0
        if isinstance(value, dict):
            action = value.get("action")
            given, rest = _selector({k: v for k, v in value.items() if k != "action"}, kind,
                                    source, line, frozenset({"timeout"}))
            timeout = _number(rest.get("timeout", timeout), "timeout", source, line)
            chosen = given if given.describe() else None
        if action not in allowed:
            raise ScenarioError(f"{kind}: expected {' or '.join(allowed)}, got {action!r}",
                                path=source, line=line)
        return Step(kind=kind, line=line, action=str(action), selector=chosen,
                    timeout=timeout)
    raise ScenarioError(f"unknown step {kind!r}; {_STEP_HELP}", path=source, line=line)
