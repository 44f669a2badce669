# mypy: allow-untyped-calls
# (mitmproxy test helpers and FlowWriter are not annotated)
"""The addon's hooks under mitmproxy's taddons context (no proxy process, no network)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from mitmproxy import connection, io
from mitmproxy.exceptions import OptionsError
from mitmproxy.proxy.server_hooks import ServerConnectionHookData
from mitmproxy.test import taddons, tflow

from harness.capture.addon import ConsentryCapture
from harness.capture.protocol import FLOW_PREFIX


def _hook_data(address: tuple[str, int]) -> ServerConnectionHookData:
    server = connection.Server(address=address)
    return ServerConnectionHookData(server=server, client=tflow.tclient_conn())


def test_resolved_connection_goes_to_stand_in_and_keeps_its_name() -> None:
    addon = ConsentryCapture()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, consentry_resolve=["alog.umeng.com:443=127.0.0.1:8443"])
        data = _hook_data(("alog.umeng.com", 443))
        addon.server_connect(data)
        assert data.server.address == ("127.0.0.1", 8443)
        assert data.server.sni == "alog.umeng.com"
        data.server.state = connection.ConnectionState.OPEN
        addon.server_connected(data)
        assert data.server.address == ("alog.umeng.com", 443)

        other = _hook_data(("example.com", 443))
        addon.server_connect(other)
        assert other.server.address == ("example.com", 443) and other.server.sni is None


def test_bad_resolve_option_is_an_options_error() -> None:
    addon = ConsentryCapture()
    with taddons.context(addon) as tctx, pytest.raises(OptionsError, match="host\\[:port\\]"):
        tctx.configure(addon, consentry_resolve=["alog.umeng.com"])


def test_each_flow_is_written_then_announced_once(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    flows_path = tmp_path / "flows.mitm"
    addon = ConsentryCapture()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, consentry_flows=str(flows_path), consentry_body_cap=3)
        first, second = tflow.tflow(resp=True), tflow.tflow(err=True)
        addon.response(first)
        addon.response(first)  # a second completion hook for the same flow is not a new flow
        addon.error(second)
        addon.response(tflow.twebsocketflow())  # websocket flows wait for websocket_end
        addon.done()
    lines = capsys.readouterr().out.splitlines()
    payloads = [json.loads(line[len(FLOW_PREFIX):]) for line in lines]
    assert [(p["id"], p["index"]) for p in payloads] == [(first.id, 0), (second.id, 1)]
    assert base64.b64decode(payloads[0]["request_body_b64"]) == b"con"
    with flows_path.open("rb") as fo:
        assert [f.id for f in io.FlowReader(fo).stream()] == [first.id, second.id]


def test_indexes_continue_after_existing_flows(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    flows_path = tmp_path / "flows.mitm"
    with flows_path.open("wb") as fo:
        io.FlowWriter(fo).add(tflow.tflow(resp=True))
    addon = ConsentryCapture()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, consentry_flows=str(flows_path))
        addon.websocket_end(tflow.twebsocketflow())
        addon.done()
    payload = json.loads(capsys.readouterr().out.splitlines()[0][len(FLOW_PREFIX):])
    assert payload["index"] == 1 and len(payload["websocket_messages"]) == 3
