"""permission-before-consent: a runtime permission checked or requested before the user
decided; opening personal-data permissions is part of collection under MIIT rules."""

from __future__ import annotations

from typing import Any

from harness.analysis.model import Finding, RunContext
from harness.analysis.rules.common import collections_in, group_calls
from harness.events import PERMISSION_TYPES, Event


def permissions_of(event: Event) -> list[str]:
    return sorted({str(p) for p in event.data.get("permissions") or []}) or ["unknown"]


def permission_details(group: list[Event]) -> dict[str, Any]:
    requested = sorted({p for e in group if e.type == "permission.request"
                        for p in permissions_of(e)})
    checked = sorted({p for e in group if e.type == "permission.check" for p in permissions_of(e)})
    return {"requested": requested, "checked": checked}


class PermissionBeforeConsent:
    id: str = "permission-before-consent"
    title: str = "Permission checked or requested before consent"
    title_zh: str = "征得用户同意前申请或检查权限"
    refs: tuple[str, ...] = (
        "CN-PRECONSENT-01: MIIT App违法违规收集使用个人信息行为认定方法 三.1 (no opening of "
        "personal-data permissions before consent)",
        "CN-PERM-EARLY-01: 164号文 2.1 scenario 7",
        "GB/T 41391-2022 §6.5",
    )

    def evaluate(self, ctx: RunContext) -> list[Finding]:
        events = collections_in(ctx, "before", frozenset(PERMISSION_TYPES))
        return group_calls(self, ctx, events, types_of=permissions_of, extra=permission_details)
