"""send-before-consent: a value the hooks saw (or the device's own, or a canary) leaves the
device before the user decided."""

from __future__ import annotations

from harness.analysis.model import Finding, RunContext
from harness.analysis.rules.send_grouping import group_sends


class SendBeforeConsent:
    id: str = "send-before-consent"
    title: str = "Personal data sent before consent"
    title_zh: str = "征得用户同意前向外发送个人信息"
    refs: tuple[str, ...] = (
        "CN-3P-01: MIIT App违法违规收集使用个人信息行为认定方法 五; 164号文 1.3",
        "CN-PRECONSENT-01: 认定方法 三.1",
        "GB/T 41391-2022 §6.6",
        "GDPR Art. 6(1)(a)",
    )

    def evaluate(self, ctx: RunContext) -> list[Finding]:
        return group_sends(self, ctx, "before")
