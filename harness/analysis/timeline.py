"""The consent boundary: when the dialog was shown, when the user decided, and what.

Phases of a run, as the rules see them:

- ``before``: before any decision (accept or reject). A run that never reached a decision is
  ``before`` from start to end, because nothing was ever consented to.
- ``refused``: after a ``consent.reject`` and before any later ``consent.accept``.
- ``accepted``: after a ``consent.accept``.

An event exactly at the decision time counts as ``before``: the tap and the read raced, and
the benefit of the doubt goes to the user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from harness.events import CONSENT_ACCEPT, CONSENT_DIALOG_SEEN, CONSENT_REJECT, CONSENT_SHOWN, Event

Phase = Literal["before", "refused", "accepted"]
ConsentState = Literal["accepted", "rejected", "never"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Consent:
    """Consent decisions of one run, on the host timeline (Unix seconds)."""

    shown: float | None
    """First time the consent dialog was seen."""

    decisions: tuple[tuple[float, Literal["accept", "reject"]], ...]
    """Every accept/reject tap, in time order."""

    @property
    def state(self) -> ConsentState:
        """The final state: the last decision wins (reject then accept is accepted)."""
        if not self.decisions:
            return "never"
        return "accepted" if self.decisions[-1][1] == "accept" else "rejected"

    @property
    def decided(self) -> float | None:
        """Time of the first decision: where ``before consent`` ends."""
        return self.decisions[0][0] if self.decisions else None

    def phase(self, t: float) -> Phase:
        current: Phase = "before"
        for when, what in self.decisions:
            if t <= when:
                break
            current = "accepted" if what == "accept" else "refused"
        return current


def consent_of(events: Sequence[Event]) -> Consent:
    # The runner records consent.shown when it answers; the watch saw the dialog earlier.
    shown = [e.t for e in events if e.type in (CONSENT_SHOWN, CONSENT_DIALOG_SEEN)]
    decisions = sorted(
        (e.t, "accept" if e.type == CONSENT_ACCEPT else "reject")
        for e in events
        if e.type in (CONSENT_ACCEPT, CONSENT_REJECT)
    )
    typed: tuple[tuple[float, Literal["accept", "reject"]], ...] = tuple(
        (t, "accept" if what == "accept" else "reject") for t, what in decisions
    )
    return Consent(shown=min(shown) if shown else None, decisions=typed)


def relative(t: float | None, t0: float | None) -> float | None:
    """Seconds from session start, rounded to milliseconds so outputs stay stable."""
    if t is None or t0 is None:
        return None
    return round(t - t0, 3)
