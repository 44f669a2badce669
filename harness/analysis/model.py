"""What rules read (:class:`RunContext`) and what they produce (:class:`Finding`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.analysis.attribution import Attribution
from harness.analysis.sendmatch import SendMatch
from harness.analysis.timeline import Consent, Phase, relative
from harness.analysis.values import ValueIndex
from harness.bundle import RunBundle
from harness.events import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One thing a rule flags, grouped per (rule, SDK, data types), with its evidence."""

    rule: str
    title: str
    data_types: tuple[str, ...]
    sdk: str
    """SDK name, ``app``, or ``unknown: <package>``."""
    sdk_package: str | None
    first_seen: float | None
    """Seconds from session start."""
    count: int
    events: tuple[int, ...]
    """Evidence: event seq numbers in ``events.jsonl``."""
    flows: tuple[str, ...] = ()
    """Evidence: flow ids (``flow.http`` data id, as in ``flows.mitm``)."""
    details: dict[str, Any] = field(default_factory=dict)
    refs: tuple[str, ...] = ()

    def sort_key(self) -> tuple[str, str, tuple[str, ...], float]:
        first = self.first_seen if self.first_seen is not None else float("inf")
        return (self.rule, self.sdk, self.data_types, first)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "title": self.title,
            "data_types": list(self.data_types),
            "sdk": self.sdk,
            "sdk_package": self.sdk_package,
            "first_seen": self.first_seen,
            "count": self.count,
            "evidence": {"events": list(self.events), "flows": list(self.flows)},
            "details": self.details,
            "refs": list(self.refs),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RunContext:
    """Everything derived from a bundle that more than one rule needs."""

    bundle: RunBundle
    consent: Consent
    attributions: Mapping[int, Attribution]
    """Attribution of every ``hook.call`` and ``permission.*`` event, by seq."""
    values: ValueIndex
    sends: Sequence[SendMatch]
    """Every collected value found in a request, in timeline order."""
    scan_notes: Sequence[str] = ()
    """Requests (or parts) the matcher could not search completely."""

    @property
    def events(self) -> list[Event]:
        return self.bundle.events

    @property
    def t0(self) -> float | None:
        return self.bundle.t_start

    def rel(self, t: float | None) -> float | None:
        return relative(t, self.t0)

    def phase(self, t: float) -> Phase:
        return self.consent.phase(t)


class Rule(Protocol):
    """A rule: a stable id, titles, regulation refs, and a pure evaluation."""

    id: str
    title: str
    title_zh: str
    refs: tuple[str, ...]

    def evaluate(self, ctx: RunContext) -> list[Finding]: ...
