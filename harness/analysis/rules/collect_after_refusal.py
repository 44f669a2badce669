"""collect-after-refusal: personal data read after the user refused (and before any later
accept)."""

from __future__ import annotations

from harness.analysis.model import Finding, RunContext
from harness.analysis.rules.common import collections_in, group_calls


class CollectAfterRefusal:
    id: str = "collect-after-refusal"
    title: str = "Personal data collected after the user refused"
    title_zh: str = "用户明确拒绝后仍收集个人信息"
    refs: tuple[str, ...] = (
        "CN-REFUSED-01: MIIT App违法违规收集使用个人信息行为认定方法 三.2",
        "GB/T 41391-2022 §6.4",
        "GDPR Art. 7(3), Art. 6(1)(a)",
        "ePrivacy Directive 2002/58/EC Art. 5(3)",
    )

    def evaluate(self, ctx: RunContext) -> list[Finding]:
        return group_calls(self, ctx, collections_in(ctx, "refused"))
