"""Sends per (sender, recipient host): what send-before-consent and send-after-refusal report.

A send is a known value found in a request. Its provenance, nearest first:

* ``hook``: the latest hooked read of that value before the request (API, SDK, time); the
  send is attributed to that read's SDK.
* ``ground_truth`` / ``canary``: no hook saw a read before the request, but the value is the
  device's own (read through the target at start) or a canary planted for the run. The app
  must have read it somehow (native code, reflection, an unhooked API): the send is reported
  with ``read: null`` and attributed to the recipient's tracker name when the table knows it.
"""

from __future__ import annotations

from typing import Any

from harness.analysis.model import Finding, Rule, RunContext
from harness.analysis.rules.common import MAX_SENDS, sender_of
from harness.analysis.sendmatch import SendMatch, first_party_domains
from harness.analysis.timeline import Phase
from harness.analysis.values import Read
from harness.traffic.recipients import etld1_of, party_of

UNATTRIBUTED = "unknown"
"""SDK of a send that no hook read explains and whose recipient the tracker table lacks."""


def _read_json(ctx: RunContext, reads: list[Read]) -> dict[str, Any] | None:
    if not reads:
        return None
    read = reads[-1]
    return {"seq": read.event.seq, "t": ctx.rel(read.event.t), "api": read.event.data.get("api"),
            "sdk": read.attribution.sdk, "frame": read.attribution.frame}


def group_sends(rule: Rule, ctx: RunContext, phase: Phase) -> list[Finding]:
    """One finding per (sender SDK, recipient host) over the sends in ``phase``."""
    package = ctx.bundle.app_package
    domains = first_party_domains(ctx.bundle.manifest)
    groups: dict[tuple[str, str], list[tuple[SendMatch, list[Read], str]]] = {}
    seen: set[tuple[int, str, str]] = set()
    for match in ctx.sends:
        # one send per (request, value): other places or encodings in it add no evidence
        key = (match.flow_event.seq, match.data_type, match.value)
        if ctx.phase(match.flow_event.t) != phase or key in seen:
            continue
        seen.add(key)
        reads = ctx.values.reads_of(match.data_type, match.value, until=match.flow_event.t)
        if reads:
            sender = sender_of(reads, match.host)
            reads = [r for r in reads if r.attribution.sdk == sender.attribution.sdk]
            sdk, source = sender.attribution.sdk, "hook"
        else:
            planted = ctx.values.planted_of(match.data_type, match.value)
            if planted is None:
                continue  # value first read after it was sent: seen, not read by the app here
            sdk, source = match.recipient or UNATTRIBUTED, planted.source
        groups.setdefault((sdk, match.host), []).append((match, reads, source))
    findings = []
    for (sdk, host), items in sorted(groups.items()):
        items.sort(key=lambda item: (item[0].flow_event.t, item[0].flow_event.seq,
                                     item[0].data_type, item[0].value))
        seqs = {m.flow_event.seq for m, _, _ in items}
        seqs |= {r.event.seq for _, rs, _ in items for r in rs}
        party = party_of(host, package, domains)
        sends = [{
            "flow": m.flow_id, "seq": m.flow_event.seq, "t": ctx.rel(m.flow_event.t),
            "method": m.flow_event.data.get("method"), "url": m.url, "host": m.host,
            "etld1": etld1_of(m.host), "party": party,
            "data_type": m.data_type, "value": m.value, "where": m.where,
            "transform": m.transform, "recipient": m.recipient, "excerpt": m.excerpt,
            "source": source, "read": _read_json(ctx, rs),
        } for m, rs, source in items]
        first = items[0][0]
        hook_reads = [rs for _, rs, _ in items if rs]
        findings.append(Finding(
            rule=rule.id, title=rule.title,
            data_types=tuple(sorted({m.data_type for m, _, _ in items})), sdk=sdk,
            sdk_package=hook_reads[0][-1].attribution.sdk_package if hook_reads else None,
            first_seen=ctx.rel(first.flow_event.t), count=len(items),
            events=tuple(sorted(seqs)), flows=tuple(sorted({m.flow_id for m, _, _ in items})),
            details={
                "phase": phase, "host": host, "etld1": etld1_of(host), "party": party,
                "read_by": sorted({r.attribution.sdk for _, rs, _ in items for r in rs}),
                "sources": sorted({source for _, _, source in items}),
                "transforms": sorted({m.transform for m, _, _ in items}),
                "recipient": next((m.recipient for m, _, _ in items if m.recipient), None),
                "sends": sends[:MAX_SENDS],
            },
            refs=rule.refs,
        ))
    return findings
