"""exit-after-refusal: the app leaves the foreground, or its process ends, within 10 s of a
refusal (privacy dialog or runtime permission). Forced exit is the typical way an app makes
consent a condition of use.

Reads the runner's observations: ``app.background`` with ``cause: app`` (another package came
to the front without the harness doing it) and ``app.exit`` that nobody expected (the
runner's own, or the agent's with ``expected: false``).
"""

from __future__ import annotations

from typing import Any

from harness.analysis.model import Finding, RunContext
from harness.events import CONSENT_REJECT, Event

#: Seconds after a refusal within which leaving counts as caused by it (rules.md CN-NEC-02).
WINDOW = 10.0


def is_refusal(event: Event) -> bool:
    return event.type == CONSENT_REJECT or (
        event.type == "permission.answer" and event.data.get("answer") == "deny")


def is_leaving(event: Event) -> bool:
    if event.type == "app.background":
        return event.data.get("cause") == "app"
    if event.type == "app.exit":
        return event.data.get("expected") is not True and event.data.get("cause", "app") == "app"
    return False


class ExitAfterRefusal:
    id: str = "exit-after-refusal"
    title: str = "App left the foreground or exited right after a refusal"
    title_zh: str = "用户拒绝后App退出或转入后台"
    refs: tuple[str, ...] = (
        "CN-NEC-02: NEC Art. 4; 164号文 2.1 scenario 1; DRAFT21 (不得强制退出或者关闭App)",
        "EU-GDPR-7-4: GDPR Art. 7(4) (consent is not freely given when refusing ends the "
        "service)",
    )

    def evaluate(self, ctx: RunContext) -> list[Finding]:
        findings = []
        events = sorted(ctx.events, key=lambda e: (e.t, e.seq))
        for index, refusal in enumerate(events):
            if not is_refusal(refusal):
                continue
            leave = next((e for e in events[index + 1:]
                          if e.t - refusal.t <= WINDOW and is_leaving(e)
                          and e.t >= refusal.t), None)
            later = next((e for e in events[index + 1:] if is_refusal(e)), None)
            if leave is None or (later is not None and later.t <= leave.t):
                continue  # judged against the refusal closest before the leaving
            findings.append(self._finding(ctx, refusal, leave))
        return findings

    def _finding(self, ctx: RunContext, refusal: Event, leave: Event) -> Finding:
        details: dict[str, Any] = {
            "refusal": {"seq": refusal.seq, "type": refusal.type, "t": ctx.rel(refusal.t),
                        "layer": refusal.data.get("layer"),
                        "control": refusal.data.get("control"),
                        "screen": refusal.data.get("screen")},
            "left": {"seq": leave.seq, "type": leave.type, "t": ctx.rel(leave.t),
                     "foreground": leave.data.get("foreground"),
                     "reason": leave.data.get("reason")},
            "seconds_after_refusal": round(leave.t - refusal.t, 3),
            "window_s": WINDOW,
        }
        return Finding(rule=self.id, title=self.title, data_types=(), sdk="app",
                       sdk_package=ctx.bundle.app_package, first_seen=ctx.rel(leave.t),
                       count=1, events=(refusal.seq, leave.seq), details=details,
                       refs=self.refs)
