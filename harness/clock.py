"""Measuring the device-host clock offset, NTP style.

Each sample asks the device for its time between two host readings; the sample with the
shortest round trip bounds the error best: offset = device - midpoint, error = rtt / 2.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ClockOffset:
    offset: float
    """Device time minus host time, seconds."""
    error: float
    """Half the best round trip: the true offset lies within offset ± error."""
    samples: int

    def to_host(self, device_t: float) -> float:
        return device_t - self.offset

    def to_json(self) -> dict[str, float | int]:
        return {"offset": self.offset, "error": self.error, "samples": self.samples}


ZERO = ClockOffset(0.0, 0.0, 0)


def measure(device_now_ms: Callable[[], float], samples: int = 8,
            host_now: Callable[[], float] = time.time) -> ClockOffset:
    best: tuple[float, float] | None = None  # (rtt, offset)
    for _ in range(samples):
        t0 = host_now()
        device = device_now_ms() / 1000.0
        t1 = host_now()
        rtt = t1 - t0
        offset = device - (t0 + t1) / 2
        if best is None or rtt < best[0]:
            best = (rtt, offset)
    if best is None:
        return ZERO
    return ClockOffset(offset=best[1], error=best[0] / 2, samples=samples)
