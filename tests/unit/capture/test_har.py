# mypy: allow-untyped-calls
# (mitmproxy test helpers and FlowWriter are not annotated)
"""HAR 1.2 export of a flow dump written with mitmproxy's own FlowWriter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mitmproxy import io
from mitmproxy.test import tflow

from harness.capture.har import write_har
from harness.errors import InputError


def test_http_flows_become_entries_in_file_order(tmp_path: Path) -> None:
    dump = tmp_path / "flows.mitm"
    first, second = tflow.tflow(resp=True), tflow.tflow(resp=True)
    second.request.path = "/second"
    with dump.open("wb") as fo:
        writer = io.FlowWriter(fo)
        for flow in (first, tflow.ttcpflow(), second):  # TCP flows have no HAR form
            writer.add(flow)
    out = tmp_path / "traffic.har"
    assert write_har(dump, out) == 2
    har = json.loads(out.read_text())
    assert har["log"]["version"] == "1.2"
    assert [e["request"]["url"] for e in har["log"]["entries"]] == [
        "http://address:22/path", "http://address:22/second"]
    assert not (tmp_path / "traffic.har.tmp").exists()


def test_missing_dump_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such flow dump"):
        write_har(tmp_path / "flows.mitm", tmp_path / "traffic.har")


def test_damaged_dump_is_an_input_error(tmp_path: Path) -> None:
    dump = tmp_path / "flows.mitm"
    dump.write_bytes(b"this is not a tnetstring")
    with pytest.raises(InputError, match="not a mitmproxy flow dump"):
        write_har(dump, tmp_path / "traffic.har")
    assert not (tmp_path / "traffic.har").exists()
