"""permission-after-refusal: a runtime permission checked or requested after the user refused
(and before any later accept); MIIT counts opening permissions after refusal as collection."""

from __future__ import annotations

from harness.analysis.model import Finding, RunContext
from harness.analysis.rules.common import collections_in, group_calls
from harness.analysis.rules.permission_before_consent import permission_details, permissions_of
from harness.events import PERMISSION_TYPES


class PermissionAfterRefusal:
    id: str = "permission-after-refusal"
    title: str = "Permission checked or requested after the user refused"
    title_zh: str = "用户明确拒绝后仍申请或检查权限"
    refs: tuple[str, ...] = (
        "CN-REFUSED-01: MIIT App违法违规收集使用个人信息行为认定方法 三.2 (no opening of "
        "personal-data permissions after refusal)",
        "CN-NAG-01: 认定方法 三.2; 164号文 2.1 scenarios 5-6",
        "GB/T 41391-2022 §6.5",
    )

    def evaluate(self, ctx: RunContext) -> list[Finding]:
        events = collections_in(ctx, "refused", frozenset(PERMISSION_TYPES))
        return group_calls(self, ctx, events, types_of=permissions_of, extra=permission_details)
