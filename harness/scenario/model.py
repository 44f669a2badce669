"""What a scenario is: a named list of steps.

A scenario file (YAML)::

    # accept: launch, accept the privacy dialog, use the app for 10 s.
    name: accept
    steps:
      - launch
      - wait_for: {text: "同意", timeout: 20}
      - consent: accept                  # the detector finds the dialog and its button
      - consent: {action: reject, resource_id: "com.app:id/disagree"}   # or by selector
      - click: {text: "Settings"}        # or {x: 540, y: 1200}
      - wait: 10
      - back | home | restart
      - background: 5                    # home, wait 5 s, back to the app
      - press: enter
      - screenshot: after-accept
      - permission: deny                 # answer a runtime-permission dialog now
      - explore: {seconds: 30, max_clicks: 20}   # click unvisited controls, stay in the app

    options:
      permissions: deny                  # how dialogs seen during any step are answered:
                                         # allow, deny (default: privacy testing), ask (leave)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

StepKind = Literal["launch", "wait", "wait_for", "click", "back", "home", "background", "restart",
                   "consent", "press", "screenshot", "permission", "explore"]
PermissionPolicy = Literal["allow", "deny", "ask"]
#: Runtime-permission dialogs are denied unless the scenario says otherwise: a privacy test
#: wants to see what the app does without the data, and whether it asks again.
DEFAULT_PERMISSION_POLICY: PermissionPolicy = "deny"


@dataclass(frozen=True, slots=True, kw_only=True)
class Selector:
    text: str | None = None
    resource_id: str | None = None
    text_contains: str | None = None

    def describe(self) -> str:
        parts = [f"{k}={v!r}" for k, v in (("text", self.text), ("resource_id", self.resource_id),
                                            ("text_contains", self.text_contains)) if v]
        return ", ".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    kind: StepKind
    line: int
    seconds: float | None = None
    timeout: float | None = None
    selector: Selector | None = None
    point: tuple[int, int] | None = None
    action: str | None = None
    """consent: accept / reject; permission: allow / deny; press: the key; screenshot: label."""
    max_clicks: int | None = None
    """explore: at most this many clicks."""

    def describe(self) -> str:
        detail = [self.action or "", self.selector.describe() if self.selector else ""]
        if self.seconds is not None:
            detail.append(f"{self.seconds:g}s")
        if self.max_clicks is not None:
            detail.append(f"max {self.max_clicks} clicks")
        if self.point is not None:
            detail.append(f"at {self.point[0]},{self.point[1]}")
        text = " ".join(d for d in detail if d)
        return f"{self.kind} {text}".strip()


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    name: str
    steps: tuple[Step, ...]
    path: str = ""
    description: str = ""
    sha256: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def permission_policy(self) -> PermissionPolicy:
        value = self.options.get("permissions", DEFAULT_PERMISSION_POLICY)
        return value if value in ("allow", "deny", "ask") else DEFAULT_PERMISSION_POLICY

    def to_manifest(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "sha256": self.sha256,
                "description": self.description, "steps": [s.describe() for s in self.steps],
                "permissions": self.permission_policy}
