"""Every captured request with what it carried: ``traffic.matches.json`` in the run directory.

One entry per ``flow.http`` event (in timeline order; ``index`` is its 0-based position,
as in ``consentry traffic scan``), with its recipient (eTLD+1, first or third party, tracker
name from the project's table) and each known value found in it: data type, where, the
encoding chain, and where the value came from (``hook``: a hooked read before the request;
``ground_truth`` / ``canary``: known from the device, no hook saw a read). Derived from the
bundle alone and written without timestamps of its own, so it is deterministic.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.analysis.model import RunContext
from harness.analysis.sendmatch import SendMatch, first_party_domains, flow_id
from harness.events import FLOW_HTTP
from harness.files import write_atomic
from harness.traffic.recipients import party_of, recipient_of

MATCHES_FILE = "traffic.matches.json"
SCHEMA = 1


def _source(ctx: RunContext, match: SendMatch) -> str | None:
    """``hook`` when a hooked read of the value precedes the request, else the planted
    record's source; None when the value was only read after it was sent."""
    if ctx.values.reads_of(match.data_type, match.value, until=match.flow_event.t):
        return "hook"
    planted = ctx.values.planted_of(match.data_type, match.value)
    return planted.source if planted is not None else None


def annotate(ctx: RunContext) -> dict[str, Any]:
    """The ``traffic.matches.json`` document for the run in ``ctx``."""
    package = ctx.bundle.app_package
    domains = first_party_domains(ctx.bundle.manifest)
    by_seq: dict[int, list[SendMatch]] = {}
    for match in ctx.sends:
        by_seq.setdefault(match.flow_event.seq, []).append(match)
    flows = []
    index = 0
    for event in ctx.events:
        if event.type != FLOW_HTTP:
            continue
        host = str(event.data.get("host") or "")
        recipient = recipient_of(host)
        party = party_of(host, package, domains)
        matches = [{
            "data_type": m.data_type, "value": m.value, "where": m.where,
            "transform": m.transform, "recipient": m.recipient, "party": party,
            "source": _source(ctx, m),
        } for m in sorted(by_seq.get(event.seq, []),
                          key=lambda m: (m.data_type, m.value, m.where, m.transform))]
        flows.append({
            "index": index, "id": flow_id(event), "seq": event.seq, "t": ctx.rel(event.t),
            "phase": ctx.phase(event.t), "method": event.data.get("method"),
            "url": event.data.get("url"), "host": host, "etld1": recipient.etld1,
            "party": party, "tracker": recipient.tracker, "matches": matches,
        })
        index += 1
    return {
        "schema": SCHEMA, "app": package, "first_party_domains": domains,
        "flows": flows, "notes": list(ctx.scan_notes),
    }


def write_annotations(run_dir: Path, ctx: RunContext) -> Path:
    """Write ``traffic.matches.json`` into ``run_dir``; returns its path."""
    path = Path(run_dir) / MATCHES_FILE
    write_atomic(path, json.dumps(annotate(ctx), ensure_ascii=False, indent=2,
                                       sort_keys=True) + "\n")
    return path
