"""ambiguous-accept: the only way forward is an acknowledge label (我知道了, OK, Got it)."""

from __future__ import annotations

from harness.analysis.model import Finding, RunContext
from harness.analysis.rules.dialog_design import dialog_findings


class AmbiguousAccept:
    id: str = "ambiguous-accept"
    title: str = "Accept labelled as an acknowledgement, not an agreement"
    title_zh: str = "同意按钮仅为“我知道了”等含糊表述"
    refs: tuple[str, ...] = (
        "CN-BUTTONS-01: 164号文 1.1 scenario 7 (\"好的\" or \"我知道了\" alone is "
        "insufficient)",
        "EU-GDPR-DP: GDPR Art. 7 as operationalised in P8 (unambiguous labels)",
    )

    def evaluate(self, ctx: RunContext) -> list[Finding]:
        return dialog_findings(self, ctx, self.id)
