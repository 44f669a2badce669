"""Decoding the agent's messages (hooks/src/protocol.ts) into timeline records.

Anything unexpected becomes an ``agent.unknown`` record rather than being dropped: for a
privacy tool an ignored message could hide a leak.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROTOCOL_VERSION = 1


@dataclass(frozen=True, slots=True)
class AgentRecord:
    type: str
    device_t: float | None
    """Device time (Unix seconds) when the agent observed it; None when it did not say."""
    data: dict[str, Any] = field(default_factory=dict)


def decode(message: dict[str, Any], data: bytes | None = None) -> list[AgentRecord]:
    """One Frida script message → the records it carries (possibly several)."""
    kind = message.get("type")
    if kind == "error":
        return [AgentRecord("agent.error", None, {
            "message": message.get("description", ""),
            "stack": message.get("stack", ""),
            "file": message.get("fileName"),
            "line": message.get("lineNumber"),
        })]
    if kind != "send":
        return [AgentRecord("agent.unknown", None, {"message": message})]
    payload = message.get("payload")
    if not isinstance(payload, dict) or payload.get("v") != PROTOCOL_VERSION:
        return [AgentRecord("agent.unknown", None, {"payload": payload,
                                                    "reason": "not protocol version 1"})]
    ptype = payload.get("type")
    if ptype == "events":
        return _events(payload)
    if ptype == "agent:ready":
        info = {k: v for k, v in payload.items() if k not in ("v", "type")}
        return [AgentRecord("agent.ready", None, info)]
    if ptype == "agent:error":
        return [AgentRecord("agent.error", None, {"message": payload.get("message", ""),
                                                  "stack": payload.get("stack", "")})]
    return [AgentRecord("agent.unknown", None, {"payload": payload, "reason": "unknown type"})]


def _events(payload: dict[str, Any]) -> list[AgentRecord]:
    records: list[AgentRecord] = []
    events = payload.get("events")
    if not isinstance(events, list):
        return [AgentRecord("agent.unknown", None, {"payload": payload,
                                                    "reason": "events is not a list"})]
    # A batch carries each distinct stack once; events point at it with `stack_ref`.
    stacks = payload.get("stacks")
    stacks = stacks if isinstance(stacks, list) else []
    for event in events:
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            records.append(AgentRecord("agent.unknown", None, {"event": event,
                                                               "reason": "malformed event"}))
            continue
        device_t = event.get("device_t")
        data = {k: v for k, v in event.items() if k != "type"}
        if "stack_ref" in data:
            ref = data["stack_ref"]
            if isinstance(ref, int) and not isinstance(ref, bool) and 0 <= ref < len(stacks):
                del data["stack_ref"]
                data["stack"] = stacks[ref]
            else:  # kept as it came, marked: the event is still evidence
                data["stack_error"] = f"stack_ref {ref!r} not in the batch's {len(stacks)} stacks"
        records.append(AgentRecord(
            event["type"], float(device_t) if isinstance(device_t, int | float) else None, data))
    dropped = payload.get("dropped", 0)
    if isinstance(dropped, int) and dropped > 0:
        records.append(AgentRecord("agent.dropped", None, {"count": dropped}))
    return records
