"""Shared by the consent-dialog design rules: the detector's findings on the dialog the runner
saw (``consent.shown`` ``data.detection.findings``) become run findings, with the screen.

The rules read only what the bundle recorded, so a run re-analysed later gives the same
result; a dialog found by a selector (no detection) is not judged.
"""

from __future__ import annotations

from typing import Any

from harness.analysis.model import Finding, Rule, RunContext
from harness.events import CONSENT_SHOWN, Event


def detection_of(event: Event) -> dict[str, Any]:
    detection = event.data.get("detection")
    return detection if isinstance(detection, dict) else {}


def dialog_findings(rule: Rule, ctx: RunContext, name: str) -> list[Finding]:
    """One finding for every ``consent.shown`` whose detection reported ``name``, grouped."""
    shown = [e for e in ctx.events
             if e.type == CONSENT_SHOWN and name in (detection_of(e).get("findings") or [])]
    if not shown:
        return []
    first = shown[0]
    detection = detection_of(first)
    details: dict[str, Any] = {
        "screen": first.data.get("screen"),
        "screenshot": first.data.get("screenshot"),
        "layer": first.data.get("layer", 1),
        "accept": detection.get("accept"),
        "reject": detection.get("reject"),
        "screens": [e.data.get("screen") for e in shown],
    }
    return [Finding(rule=rule.id, title=rule.title, data_types=(), sdk="app",
                    sdk_package=ctx.bundle.app_package, first_seen=ctx.rel(first.t),
                    count=len(shown), events=tuple(e.seq for e in shown), details=details,
                    refs=rule.refs)]
