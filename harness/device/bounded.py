"""``run_bounded``: a call to a device that may hang, given up after a time limit.

adbutils waits up to 600 s on a dead socket and Frida's detach/flush on a lost device can
block as long: cleanup after a failure must not. The call runs in a daemon thread that is
left behind on timeout (its socket dies with the process); what it raises after the caller
gave up is handed to ``late`` so it is not lost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def run_bounded(step: Callable[[], T], seconds: float, label: str, *,
                late: Callable[[BaseException], None] | None = None) -> T:
    """``step()``, or TimeoutError after ``seconds``; its own exception is re-raised."""
    result: list[T] = []
    failure: list[BaseException] = []
    lock = threading.Lock()
    gave_up = False

    def run() -> None:
        try:
            result.append(step())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller or to late()
            with lock:
                failure.append(exc)
                if not gave_up or late is None:
                    return
            late(exc)

    thread = threading.Thread(target=run, name=f"bounded: {label}", daemon=True)
    thread.start()
    thread.join(seconds)
    with lock:
        if thread.is_alive():
            gave_up = True
            raise TimeoutError(f"no answer within {seconds:g}s")
    if failure:
        raise failure[0]
    return result[0]
