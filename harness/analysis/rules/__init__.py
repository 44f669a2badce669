"""The rules, one small module each, with stable ids mapped to regulation text (rules.md)."""

from __future__ import annotations

from harness.analysis.model import Rule
from harness.analysis.rules.accept_highlighted import AcceptHighlighted
from harness.analysis.rules.ambiguous_accept import AmbiguousAccept
from harness.analysis.rules.collect_after_refusal import CollectAfterRefusal
from harness.analysis.rules.collect_before_consent import CollectBeforeConsent
from harness.analysis.rules.consent_reshown_after_refusal import ConsentReshownAfterRefusal
from harness.analysis.rules.exit_after_refusal import ExitAfterRefusal
from harness.analysis.rules.no_reject_option import NoRejectOption
from harness.analysis.rules.permission_after_refusal import PermissionAfterRefusal
from harness.analysis.rules.permission_before_consent import PermissionBeforeConsent
from harness.analysis.rules.permission_reasked_after_denial import PermissionReaskedAfterDenial
from harness.analysis.rules.pre_ticked_consent import PreTickedConsent
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
        NoRejectOption(),
        PreTickedConsent(),
        AmbiguousAccept(),
        AcceptHighlighted(),
        ExitAfterRefusal(),
        ConsentReshownAfterRefusal(),
        PermissionReaskedAfterDenial(),
    ]


__all__ = ["default_rules"]
