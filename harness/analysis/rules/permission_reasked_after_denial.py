"""permission-reasked-after-denial: a runtime-permission dialog comes back after the user
denied one, with the measured interval. No primary text fixes a minimum interval (rules.md
CN-NAG-48H is unverified), so the finding reports the facts: how often and how soon."""

from __future__ import annotations

from harness.analysis.model import Finding, RunContext
from harness.events import Event


class PermissionReaskedAfterDenial:
    id: str = "permission-reasked-after-denial"
    title: str = "Permission asked again after the user denied it"
    title_zh: str = "用户拒绝权限后再次申请"
    refs: tuple[str, ...] = (
        "CN-NAG-01: 认定方法 三.2; 工信部337号文 type 6 (频繁申请权限); 164号文 2.1 "
        "scenarios 5-6",
        "CN-NAG-48H (unverified practice): no re-request within 48 h of a refusal",
        "GP-UD-BP: Google Play user-data best practice (respect repeated refusals)",
    )

    def evaluate(self, ctx: RunContext) -> list[Finding]:
        events = sorted(ctx.events, key=lambda e: (e.t, e.seq))
        denials = [e for e in events
                   if e.type == "permission.answer" and e.data.get("answer") == "deny"]
        prompts = [e for e in events if e.type == "permission.prompt"]
        pairs: list[tuple[Event, Event]] = []
        for denial in denials:
            again = next((p for p in prompts if p.t > denial.t), None)
            if again is not None and (not pairs or pairs[-1][1].seq != again.seq):
                pairs.append((denial, again))
        if not pairs:
            return []
        intervals = [round(again.t - denial.t, 3) for denial, again in pairs]
        first_denial, first_again = pairs[0]
        return [Finding(
            rule=self.id, title=self.title, data_types=(), sdk="app",
            sdk_package=ctx.bundle.app_package, first_seen=ctx.rel(first_again.t),
            count=len(pairs),
            events=tuple(sorted({e.seq for pair in pairs for e in pair})),
            details={
                "intervals_s": intervals,
                "min_interval_s": min(intervals),
                "message": first_again.data.get("message"),
                "package": first_again.data.get("package"),
                "denied_at": ctx.rel(first_denial.t),
                "screen": first_again.data.get("screen"),
            },
            refs=self.refs)]
