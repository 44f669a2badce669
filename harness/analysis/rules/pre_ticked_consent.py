"""pre-ticked-consent: the consent checkbox is already checked when the dialog appears."""

from __future__ import annotations

from harness.analysis.model import Finding, RunContext
from harness.analysis.rules.dialog_design import dialog_findings


class PreTickedConsent:
    id: str = "pre-ticked-consent"
    title: str = "Consent checkbox ticked in advance"
    title_zh: str = "隐私政策同意选项默认勾选"
    refs: tuple[str, ...] = (
        "CN-DEFAULT-01: MTH 三.4; 164号文 1.1 scenario 8 (consent must not be pre-ticked)",
        "EU-GDPR-R32: GDPR Art. 4(11), Art. 7 and Recital 32 (pre-ticked boxes are not "
        "consent)",
    )

    def evaluate(self, ctx: RunContext) -> list[Finding]:
        return dialog_findings(self, ctx, self.id)
