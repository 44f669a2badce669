"""consent-reshown-after-refusal: after a refusal, the next start of the app shows the privacy
dialog again. An observation (severity info): many apps ask once per start, which is
defensible; asking again within the same start, or on every start, is what CN-NAG-01 is about,
and the finding gives the facts (how many starts, how soon) to judge it."""

from __future__ import annotations

from harness.analysis.model import Finding, RunContext
from harness.events import CONSENT_DIALOG_SEEN, CONSENT_REJECT, CONSENT_SHOWN


class ConsentReshownAfterRefusal:
    id: str = "consent-reshown-after-refusal"
    title: str = "Privacy dialog shown again on the next start after a refusal"
    title_zh: str = "用户拒绝后再次启动App时重新弹出隐私弹窗"
    refs: tuple[str, ...] = (
        "CN-NAG-01: 认定方法 三.2; 164号文 2.1 scenario 6 (re-asked on the next launch)",
        "GP-UD-BP: Google Play user-data best practice (respect repeated refusals)",
    )

    def evaluate(self, ctx: RunContext) -> list[Finding]:
        events = sorted(ctx.events, key=lambda e: (e.t, e.seq))
        rejects = [e for e in events if e.type == CONSENT_REJECT]
        if not rejects:
            return []
        starts = [e for e in events if e.type == "app.spawn" and e.t > rejects[0].t]
        reshown = []
        for start in starts:
            following = next((s for s in starts if s.t > start.t), None)
            shown = next((e for e in events if e.type in (CONSENT_SHOWN, CONSENT_DIALOG_SEEN)
                          and e.t > start.t
                          and (following is None or e.t < following.t)), None)
            refused_before = any(r.t < start.t for r in rejects)
            if shown is not None and refused_before:
                reshown.append((start, shown))
        if not reshown:
            return []
        start, shown = reshown[0]
        return [Finding(
            rule=self.id, title=self.title, data_types=(), sdk="app",
            sdk_package=ctx.bundle.app_package, first_seen=ctx.rel(shown.t),
            count=len(reshown),
            events=tuple(sorted({rejects[0].seq} | {e.seq for pair in reshown for e in pair})),
            details={
                "severity": "info",
                "refused_at": ctx.rel(rejects[0].t),
                "starts_after_refusal": len(starts),
                "shown_on_starts": len(reshown),
                "seconds_after_start": [round(s.t - a.t, 3) for a, s in reshown],
                "screen": shown.data.get("screen"),
                "screenshot": shown.data.get("screenshot"),
            },
            refs=self.refs)]
