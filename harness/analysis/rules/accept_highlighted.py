"""accept-highlighted: accept's area is at least 1.5 times reject's (visual nudging)."""

from __future__ import annotations

from harness.analysis.model import Finding, RunContext
from harness.analysis.rules.dialog_design import dialog_findings


class AcceptHighlighted:
    id: str = "accept-highlighted"
    title: str = "Accept made more prominent than reject"
    title_zh: str = "同意按钮明显大于拒绝按钮"
    refs: tuple[str, ...] = (
        "EU-GDPR-DP: GDPR Art. 7 as operationalised in P8 (no visual nudging; accept area "
        ">= 1.5x reject area)",
        "GP-UD-BP: Google Play user-data best practice (a real decline option)",
    )

    def evaluate(self, ctx: RunContext) -> list[Finding]:
        return dialog_findings(self, ctx, self.id)
