"""run_bounded: a hung call is given up on time; results, errors and late errors all arrive."""

from __future__ import annotations

import threading
import time

import pytest

from harness.device.bounded import run_bounded


def test_a_quick_call_returns_its_value_and_raises_its_error() -> None:
    assert run_bounded(lambda: 42, 1.0, "answer") == 42

    def fail() -> None:
        raise ValueError("broken")

    with pytest.raises(ValueError, match="broken"):
        run_bounded(fail, 1.0, "fail")


def test_a_hung_call_is_given_up_and_its_late_error_is_handed_over() -> None:
    release = threading.Event()
    late: list[BaseException] = []
    arrived = threading.Event()

    def hang() -> None:
        release.wait(10)
        raise OSError("socket closed")

    def on_late(exc: BaseException) -> None:
        late.append(exc)
        arrived.set()

    started = time.monotonic()
    with pytest.raises(TimeoutError, match="no answer within 0.2s"):
        run_bounded(hang, 0.2, "detach", late=on_late)
    assert time.monotonic() - started < 2
    release.set()
    assert arrived.wait(5) and isinstance(late[0], OSError)
