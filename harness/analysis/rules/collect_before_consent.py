"""collect-before-consent: personal data read before the user decided (or in a run with no
decision at all)."""

from __future__ import annotations

from harness.analysis.model import Finding, RunContext
from harness.analysis.rules.common import collections_in, group_calls


class CollectBeforeConsent:
    id: str = "collect-before-consent"
    title: str = "Personal data collected before consent"
    title_zh: str = "征得用户同意前收集个人信息"
    refs: tuple[str, ...] = (
        "CN-PRECONSENT-01: MIIT App违法违规收集使用个人信息行为认定方法 三.1; 164号文 1.1",
        "CN-PRECONSENT-SDK: 164号文 1.1 scenarios 4-6 (embedded SDKs)",
        "GB/T 41391-2022 §6.4",
        "ePrivacy Directive 2002/58/EC Art. 5(3)",
        "GDPR Art. 6(1)(a), Art. 7",
        "Google Play User Data policy: prominent disclosure and consent",
    )

    def evaluate(self, ctx: RunContext) -> list[Finding]:
        return group_calls(self, ctx, collections_in(ctx, "before"))
