"""no-reject-option: the consent dialog offers no way to refuse on the same layer."""

from __future__ import annotations

from harness.analysis.model import Finding, RunContext
from harness.analysis.rules.dialog_design import dialog_findings


class NoRejectOption:
    id: str = "no-reject-option"
    title: str = "Consent dialog without a reject option"
    title_zh: str = "隐私弹窗未提供拒绝选项"
    refs: tuple[str, ...] = (
        "CN-BUTTONS-01: 164号文 1.1 scenario 7 (explicit agree and refuse buttons)",
        "EU-GDPR-DP: GDPR Art. 7 as operationalised in P8 (reject on the first layer)",
    )

    def evaluate(self, ctx: RunContext) -> list[Finding]:
        return dialog_findings(self, ctx, self.id)
