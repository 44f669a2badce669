"""send-after-refusal: a value the hooks saw (or the device's own, or a canary) leaves the
device after the user refused."""

from __future__ import annotations

from harness.analysis.model import Finding, RunContext
from harness.analysis.rules.send_grouping import group_sends


class SendAfterRefusal:
    id: str = "send-after-refusal"
    title: str = "Personal data sent after the user refused"
    title_zh: str = "用户明确拒绝后仍向外发送个人信息"
    refs: tuple[str, ...] = (
        "CN-REFUSED-01: MIIT App违法违规收集使用个人信息行为认定方法 三.2",
        "CN-3P-01: 认定方法 五",
        "GDPR Art. 7(3), Art. 6(1)(a)",
    )

    def evaluate(self, ctx: RunContext) -> list[Finding]:
        return group_sends(self, ctx, "refused")
