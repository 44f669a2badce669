"""collect-before-consent: personal data read before the user decided (or in a run with no
decision at all)."""

from __future__ import annotations

from typing import Any

from harness.analysis.model import Finding, RunContext
from harness.analysis.rules.common import collections_in, group_calls
from harness.events import CONSENT_DIALOG_SEEN, Event


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
        hidden_until = _dialog_not_before(ctx)

        def unseen(group: list[Event]) -> dict[str, Any]:
            # Reads made while the dialog was provably not yet on screen: the user could not
            # even have read the policy, let alone agreed.
            if hidden_until is None:
                return {}
            return {"dialog_not_shown_before": ctx.rel(hidden_until),
                    "before_dialog_shown": sum(1 for e in group if e.t < hidden_until)}

        return group_calls(self, ctx, collections_in(ctx, "before"), extra=unseen)


def _dialog_not_before(ctx: RunContext) -> float | None:
    """When the first consent dialog was last seen absent (its sighting's ``not_before``)."""
    seen = sorted((e for e in ctx.events if e.type == CONSENT_DIALOG_SEEN), key=lambda e: e.t)
    if not seen:
        return None
    bound = seen[0].data.get("not_before")
    return float(bound) if isinstance(bound, (int, float)) else None
