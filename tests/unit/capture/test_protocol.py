"""The resolve table shared by the harness (input check) and the addon (routing)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.capture.protocol import lookup, parse_resolve


def test_entries_with_and_without_port() -> None:
    table = parse_resolve(["Alog.Umeng.com:443=127.0.0.1:8443", "bugly.qq.com=[::1]:9000"])
    assert lookup(table, "alog.umeng.com", 443) == ("127.0.0.1", 8443)
    assert lookup(table, "alog.umeng.com", 80) is None
    assert lookup(table, "BUGLY.qq.com", 1234) == ("::1", 9000)
    assert lookup(table, "example.com", 443) is None


def test_exact_port_beats_any_port() -> None:
    table = parse_resolve(["h.test=127.0.0.1:1", "h.test:443=127.0.0.1:2"])
    assert lookup(table, "h.test", 443) == ("127.0.0.1", 2)
    assert lookup(table, "h.test", 80) == ("127.0.0.1", 1)


@pytest.mark.parametrize("entry", ["h.test", "h.test=127.0.0.1", "=127.0.0.1:1",
                                   "h.test=127.0.0.1:x", "h.test:https=127.0.0.1:1"])
def test_bad_entries_say_what_was_expected(entry: str) -> None:
    with pytest.raises(ValueError, match=r"cannot use resolve entry .*expected|must be a number"):
        parse_resolve([entry])


hosts = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,6}){1,2}", fullmatch=True)
ports = st.integers(min_value=1, max_value=65535)


@given(hosts, st.none() | ports, ports)
def test_round_trip(host: str, port: int | None, target_port: int) -> None:
    source = host if port is None else f"{host}:{port}"
    table = parse_resolve([f"{source}=127.0.0.1:{target_port}"])
    assert lookup(table, host, port or 443) == ("127.0.0.1", target_port)


def test_missing_mitmproxy_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from harness.capture import proxy
    from harness.errors import ToolchainError

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ToolchainError, match="pip install mitmproxy"):
        proxy.mitmdump_command()


def test_capture_error_event() -> None:
    from harness.capture.protocol import capture_error_event

    event = capture_error_event("mitmdump exited unexpectedly (exit code 3)", 12.5)
    assert (event.type, event.t, event.source) == ("capture.error", 12.5, "proxy")
    assert event.data == {"message": "mitmdump exited unexpectedly (exit code 3)"}
