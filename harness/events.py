"""The one record type of the evidence timeline, and the vocabulary of event types.

Every observation of a run (a hooked call, a permission request, a UI step, the consent
tap, a network flow, a message from the agent) becomes one :class:`Event`, written as one
line of ``events.jsonl`` by the recorder as soon as it arrives. ``t`` is host time (Unix
seconds) on the session's single timeline: device times are converted with the measured
clock offset, and the device's own time is kept in ``data["device_t"]``.

Line format (``SCHEMA_VERSION`` 1)::

    {"seq": 17, "t": 1764409600.123, "type": "hook.call", "source": "agent", "data": {...}}

Event types and their ``data``:

``session.start`` / ``session.end``  target, app, scenario / status, reason
``app.spawn`` / ``app.resume`` / ``app.exit``  pid, process, (exit: reason)
``lifecycle.resume`` / ``lifecycle.pause``  activity, pid  (from hooks)
``app.foreground`` / ``app.background``  package  (from the UI driver's view)
``hook.call``  entry, api, category, data_type, args, ret, stack, thread, pid, process, device_t
           (optional: error when the hooked call threw, reflective)
``permission.check`` / ``permission.request``  same fields as hook.call; ``permissions`` lists
           the permission names asked for or checked, ``result`` the checked outcome
``ui.step``  index, action, detail, screen (relative path of dump), screenshot (relative path)
``consent.shown`` / ``consent.accept`` / ``consent.reject``  step, selector, screen, screenshot
``consent.dialog_seen``  the dialog appeared (seen by any look, whatever step): step,
           not_before (last look without it), accept / reject labels, findings, screen
``flow.http``  see :mod:`harness.capture.record` (id, index, method, url, host, headers, body)
``agent.ready`` / ``agent.coverage`` / ``agent.hook_skipped`` / ``agent.error`` /
``agent.dropped`` / ``agent.unknown``  protocol version, counts, reasons, raw payloads
``capture.error``  the proxy failed; the run is marked incomplete
``net.plaintext``  TLS plaintext seen in SSL_write / SSL_read: direction, data_b64, size,
           module, peer, native stack (searched for values like flows)
``agent.unpinned``  a certificate-pinning check the agent bypassed (host, stack)
``agent.hooked`` / ``agent.hook_installed``  hooks installed after start (late modules/classes)
``app.child``  a child process of the app, held, instrumented and resumed (pid, parent_pid,
           process, origin: fork / exec / spawn — ``spawn`` is an Android app process such as
           ``pkg:push`` started by zygote and caught by device-wide spawn gating)
``agent.spawn_gating``  device-wide spawn gating on (package) or off again (enabled)
``device.ground_truth`` / ``device.canary``  the device's own values / planted canary values
``consent.signal``  an SDK consent switch the app called (AMap updatePrivacyAgree, ...)
``permission.prompt`` / ``permission.answer`` / ``permission.unanswerable``  a runtime
           permission dialog seen by the UI, and how the scenario answered it (``auto`` when
           answered by the scenario's policy)
``explore.click`` / ``explore.done``  the explore step's clicks and summary
``scenario.stopped``  the scenario ended early (the app quit itself after a refusal)
``device.lost``  the device went away mid-run (android): serial, cause, during (phase or
           scenario step), step (the last ui.step), message; the run ends incomplete and
           ``consentry run`` exits 4. The manifest then has ``device_lost`` {cause, during}
``device.back``  a lost device answered again when cleanup asked (after: where it was lost);
           the run's changes to it are undone as usual
``device.not_restored``  steps: changes to the device cleanup could not undo, each {step,
           by_hand: the command that undoes it, why}; also the manifest's ``not_restored``.
           Events a helper thread wrote after the bundle closed are counted in the
           manifest's ``late_events_dropped`` {type: count}
Consent events carry ``layer`` (1 = first dialog, 2 = "you must agree" second layer, ...);
``app.foreground`` / ``app.background`` carry ``cause`` (``harness`` or ``app``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1

HOOK_CALL = "hook.call"
PERMISSION_CHECK = "permission.check"
PERMISSION_REQUEST = "permission.request"
CONSENT_SHOWN = "consent.shown"
CONSENT_DIALOG_SEEN = "consent.dialog_seen"
CONSENT_ACCEPT = "consent.accept"
CONSENT_REJECT = "consent.reject"
FLOW_HTTP = "flow.http"
UI_STEP = "ui.step"
SESSION_START = "session.start"
SESSION_END = "session.end"

#: Event types that carry a value the app read (the ``ret`` is what traffic is searched for).
COLLECTION_TYPES = frozenset({HOOK_CALL})
PERMISSION_TYPES = frozenset({PERMISSION_CHECK, PERMISSION_REQUEST})


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One observation on the session timeline."""

    type: str
    """Dotted event type, ``<area>.<event>`` (see the module docstring)."""

    t: float
    """Host time, Unix seconds, on the session timeline."""

    source: str = "host"
    """Who observed it: ``agent``, ``proxy``, ``ui`` or ``host``."""

    data: dict[str, Any] = field(default_factory=dict)
    """Type-specific payload."""

    seq: int = 0
    """Position in ``events.jsonl``, assigned by the recorder (1-based)."""

    @property
    def area(self) -> str:
        return self.type.split(".", 1)[0]

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "t": self.t, "type": self.type, "source": self.source,
                "data": self.data}

    def to_line(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"),
                          default=str)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Event:
        return cls(type=str(obj["type"]), t=float(obj["t"]), source=str(obj.get("source", "host")),
                   data=dict(obj.get("data") or {}), seq=int(obj.get("seq", 0)))
