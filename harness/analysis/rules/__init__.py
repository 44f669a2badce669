"""The rules, one small module each, with stable ids mapped to regulation text (rules.md)."""

from __future__ import annotations

from harness.analysis.model import Rule
from harness.analysis.rules.collect_after_refusal import CollectAfterRefusal
from harness.analysis.rules.collect_before_consent import CollectBeforeConsent
from harness.analysis.rules.permission_after_refusal import PermissionAfterRefusal
from harness.analysis.rules.permission_before_consent import PermissionBeforeConsent
from harness.analysis.rules.send_after_refusal import SendAfterRefusal
from harness.analysis.rules.send_before_consent import SendBeforeConsent


def default_rules() -> list[Rule]:
    """Every built-in rule, in report order."""
    return [
        CollectBeforeConsent(),
        PermissionBeforeConsent(),
        SendBeforeConsent(),
        CollectAfterRefusal(),
        PermissionAfterRefusal(),
        SendAfterRefusal(),
    ]


__all__ = ["default_rules"]
