from harness.clock import measure


def test_offset_from_the_fastest_round_trip():
    host = iter([100.0, 100.2, 200.0, 200.01, 300.0, 300.5])
    device = iter([105100.0, 205005.0, 305250.0])  # ms; device runs 5 s ahead
    clock = measure(lambda: next(device), samples=3, host_now=lambda: next(host))
    assert abs(clock.offset - 5.0) < 1e-6
    assert abs(clock.error - 0.005) < 1e-9
    assert clock.to_host(1005.0) == 1000.0
