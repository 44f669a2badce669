"""Grouping shared by the rules: calls per SDK, sends per (SDK, recipient host)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from harness.analysis.model import Finding, Rule, RunContext
from harness.analysis.timeline import Phase
from harness.analysis.values import Read
from harness.events import HOOK_CALL, Event

NON_PERSONAL_CATEGORIES = frozenset({
    "consent", "lifecycle", "network", "crypto", "reflection", "code_loading",
})
"""Hook categories that record behaviour, not a read of personal data (e.g. AMap's
``updatePrivacyAgree`` or a socket connect); they never count as collection."""

MAX_EXAMPLES = 3
STACK_EXCERPT = 6
MAX_SENDS = 20


def collections_in(ctx: RunContext, phase: Phase, types: frozenset[str] = frozenset({HOOK_CALL}),
                   ) -> list[Event]:
    """Events of ``types`` in ``phase``; for hook calls only personal-data categories."""
    return [
        e for e in ctx.events
        if e.type in types and ctx.phase(e.t) == phase
        and str(e.data.get("category") or "") not in NON_PERSONAL_CATEGORIES
    ]


def data_type_of(event: Event) -> str:
    return str(event.data.get("data_type") or event.data.get("category") or "unknown")


def _example(ctx: RunContext, event: Event) -> dict[str, Any]:
    stack = [str(f) for f in event.data.get("stack") or []]
    return {
        "seq": event.seq,
        "t": ctx.rel(event.t),
        "api": event.data.get("api"),
        "data_type": data_type_of(event),
        "frame": ctx.attributions[event.seq].frame,
        "stack": stack[:STACK_EXCERPT],
        "thread": event.data.get("thread"),
        "process": event.data.get("process"),
    }


def group_calls(rule: Rule, ctx: RunContext, events: Iterable[Event], *,
                types_of: Callable[[Event], list[str]] = lambda e: [data_type_of(e)],
                extra: Callable[[list[Event]], dict[str, Any]] | None = None) -> list[Finding]:
    """One finding per SDK over ``events`` (hook calls or permission events)."""
    by_sdk: dict[str, list[Event]] = {}
    for event in events:
        by_sdk.setdefault(ctx.attributions[event.seq].sdk, []).append(event)
    findings = []
    for sdk, group in sorted(by_sdk.items()):
        group.sort(key=lambda e: (e.t, e.seq))
        types = Counter(t for e in group for t in types_of(e))
        apis = Counter(str(e.data.get("api") or e.data.get("entry") or "?") for e in group)
        details: dict[str, Any] = {
            "phase": ctx.phase(group[0].t),
            "by_data_type": dict(sorted(types.items())),
            "apis": dict(sorted(apis.items())),
            "examples": [_example(ctx, e) for e in group[:MAX_EXAMPLES]],
        }
        if extra is not None:
            details.update(extra(group))
        findings.append(Finding(
            rule=rule.id, title=rule.title, data_types=tuple(sorted(types)), sdk=sdk,
            sdk_package=ctx.attributions[group[0].seq].sdk_package,
            first_seen=ctx.rel(group[0].t), count=len(group),
            events=tuple(sorted(e.seq for e in group)), details=details, refs=rule.refs,
        ))
    return findings


_GENERIC_LABELS = frozenset({"com", "cn", "net", "org", "io", "www", "api", "sdk", "android",
                             "app", "apps", "log", "logs", "m", "mobile"})


def sender_of(reads: Sequence[Read], host: str) -> Read:
    """The read a send most likely came from, among earlier reads of the same value.

    One reader: that one. Several: the SDK whose package shares a name with the recipient host
    (``com.tencent.bugly`` -> ``android.bugly.qq.com``), else the latest read.
    """
    host_labels = set(re.split(r"[.\-]", host.lower())) - _GENERIC_LABELS
    for read in reversed(reads):
        package = read.attribution.sdk_package or ""
        if host_labels & (set(package.lower().split(".")) - _GENERIC_LABELS):
            return read
    return reads[-1]
