from __future__ import annotations

import pytest

from harness.analysis.timeline import consent_of, relative
from harness.events import Event


def _events(*pairs: tuple[str, float]) -> list[Event]:
    return [Event(type=t, t=at, seq=i + 1) for i, (t, at) in enumerate(pairs)]


def test_never_decided_is_before_all_run() -> None:
    consent = consent_of(_events(("consent.shown", 5.0)))
    assert consent.state == "never"
    assert consent.decided is None
    assert consent.shown == 5.0
    assert consent.phase(1e12) == "before"


def test_accept_splits_before_and_after() -> None:
    consent = consent_of(_events(("consent.shown", 2.0), ("consent.accept", 3.0)))
    assert consent.state == "accepted"
    assert consent.decided == 3.0
    assert [consent.phase(t) for t in (2.9, 3.0, 3.1)] == ["before", "before", "accepted"]


@pytest.mark.parametrize(("t", "phase"), [(0.5, "before"), (1.5, "refused"), (2.5, "accepted")])
def test_reject_then_accept(t: float, phase: str) -> None:
    consent = consent_of(_events(("consent.reject", 1.0), ("consent.accept", 2.0)))
    assert consent.state == "accepted"
    assert consent.decided == 1.0
    assert consent.phase(t) == phase


def test_decisions_are_ordered_by_time_not_file_order() -> None:
    consent = consent_of(_events(("consent.accept", 9.0), ("consent.reject", 4.0)))
    assert consent.decisions == ((4.0, "reject"), (9.0, "accept"))


def test_relative_rounds_to_milliseconds() -> None:
    assert relative(1764410400.1234567, 1764410400.0) == 0.123
    assert relative(None, 1.0) is None
    assert relative(1.0, None) is None
