"""MitmdumpProcess against a real mitmdump, a real loopback HTTPS server and real TLS.

The client trusts only mitmproxy's CA and asks for ``tracker.test``; ``resolve`` sends the
upstream leg to the local server, whose self-signed certificate is not trusted by mitmproxy
(resolved connections are not verified, everything else would be).
"""

from __future__ import annotations

import base64
import datetime
import gzip
import json
import os
import signal
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from mitmproxy import io as mitm_io
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Message, Request, TextMessage

from harness.capture.har import write_har
from harness.capture.proxy import MitmdumpProcess
from harness.errors import CaptureError, ConfigError

pytestmark = pytest.mark.integration

HOST = "tracker.test"


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.received.append((dict(self.headers), body))  # type: ignore[attr-defined]
        if self.path.startswith("/slow"):  # hold the response until the test releases it
            self.server.release.wait(30)  # type: ignore[attr-defined]
        reply = b'{"ok":true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client or proxy that goes away mid-response is part of some tests


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[ThreadingHTTPServer]:
    cert, key = _self_signed(tmp_path)
    server = _QuietServer(("127.0.0.1", 0), _Collector)
    server.received = []  # type: ignore[attr-defined]
    server.release = threading.Event()  # type: ignore[attr-defined]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


class Sink:
    def __init__(self) -> None:
        self.flows: list[dict[str, Any]] = []
        self.errors: list[str] = []

    def wait_for(self, what: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not what():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; flows={self.flows!r} errors={self.errors!r}")
            time.sleep(0.05)


def _proxy(tmp_path: Path, server: ThreadingHTTPServer, sink: Sink) -> MitmdumpProcess:
    port = server.server_address[1]
    return MitmdumpProcess(tmp_path / "run", confdir=tmp_path / "conf",
                           resolve=[f"{HOST}:443=127.0.0.1:{port}"],
                           on_flow=sink.flows.append, on_error=sink.errors.append)


def _post(proxy: MitmdumpProcess, body: bytes, headers: dict[str, str] | None = None, *,
          origin: str = f"https://{HOST}", path: str = "/v1/collect?app=demo") -> bytes:
    context = ssl.create_default_context(cafile=str(proxy.ca_cert_path))
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"https": f"http://127.0.0.1:{proxy.port}"}),
        urllib.request.HTTPSHandler(context=context))
    request = urllib.request.Request(origin + path, data=body,
                                     method="POST", headers=headers or {})
    with opener.open(request, timeout=20) as response:
        data: bytes = response.read()
        return data


def _read_dump(path: Path) -> list[Any]:
    with path.open("rb") as fo:
        return list(mitm_io.FlowReader(fo).stream())


def test_https_post_is_recorded_everywhere(tmp_path: Path,
                                           https_server: ThreadingHTTPServer) -> None:
    sink = Sink()
    body = b'{"imei":"860000000000001","android_id":"9774d56d682e549c"}'
    with _proxy(tmp_path, https_server, sink) as proxy:
        assert proxy.address[0] == "127.0.0.1" and proxy.port > 0
        assert proxy.ca_cert_path.is_file()
        assert _post(proxy, body, {"Content-Type": "application/json"}) == b'{"ok":true}'
        sink.wait_for(lambda: len(sink.flows) == 1)
        seen = proxy.stop()
    assert seen == 1
    assert sink.errors == []
    assert https_server.received[0][1] == body  # type: ignore[attr-defined]

    flow = sink.flows[0]
    assert flow["host"] == HOST and flow["port"] == 443 and flow["scheme"] == "https"
    assert flow["url"] == f"https://{HOST}/v1/collect?app=demo"
    assert flow["method"] == "POST" and flow["status"] == 200 and flow["error"] is None
    assert base64.b64decode(flow["request_body_b64"]) == body
    assert flow["request_body_size"] == len(body) and flow["request_body_truncated"] is False
    assert flow["tls"] is True and flow["sni"] == HOST and flow["index"] == 0
    assert flow["client"].startswith("127.0.0.1:")
    assert ["Content-Type", "application/json"] in flow["response_headers"]
    assert flow["t_response"] >= flow["t_request"] > 0
    assert "websocket_messages" not in flow

    run = tmp_path / "run"
    dumped = _read_dump(run / "flows.mitm")
    assert [f.id for f in dumped] == [flow["id"]]
    assert dumped[0].request.raw_content == body
    assert dumped[0].server_conn.address == (HOST, 443)  # the name the client asked for
    assert dumped[0].server_conn.peername[0] == "127.0.0.1"  # went to the stand-in server

    assert write_har(run / "flows.mitm", run / "traffic.har") == 1
    har = json.loads((run / "traffic.har").read_text())
    entry = har["log"]["entries"][0]
    assert har["log"]["version"] == "1.2"
    assert entry["request"]["url"] == f"https://{HOST}/v1/collect?app=demo"
    assert entry["request"]["postData"]["text"] == body.decode()
    assert entry["response"]["status"] == 200


def test_gzip_request_body_is_kept_as_sent(tmp_path: Path,
                                           https_server: ThreadingHTTPServer) -> None:
    sink = Sink()
    plain = b"mac=02:00:00:00:00:00&oaid=" + b"0" * 200
    compressed = gzip.compress(plain)
    with _proxy(tmp_path, https_server, sink) as proxy:
        _post(proxy, compressed, {"Content-Encoding": "gzip"})
        sink.wait_for(lambda: len(sink.flows) == 1)
    flow = sink.flows[0]
    assert base64.b64decode(flow["request_body_b64"]) == compressed
    assert ["Content-Encoding", "gzip"] in flow["request_headers"]
    assert gzip.decompress(base64.b64decode(flow["request_body_b64"])) == plain
    assert https_server.received[0][1] == compressed  # type: ignore[attr-defined]


def test_unwritable_flows_file_fails_start_loudly(tmp_path: Path,
                                                  https_server: ThreadingHTTPServer) -> None:
    (tmp_path / "run" / "flows.mitm").mkdir(parents=True)  # a directory cannot take flows
    sink = Sink()
    proxy = _proxy(tmp_path, https_server, sink)
    with pytest.raises(CaptureError, match=r"(?s)exited with code 3.*cannot write flows"):
        proxy.start()
    assert proxy.returncode == 3
    assert sink.errors == []  # start() raised; on_error is for failures after ready
    assert "cannot write flows" in (tmp_path / "run" / "mitmdump.log").read_text()
    assert proxy.stop() == 0


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_failed_flow_write_stops_the_proxy_and_reports(tmp_path: Path,
                                                       https_server: ThreadingHTTPServer) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "flows.mitm").symlink_to("/dev/full")  # every write fails with ENOSPC
    sink = Sink()
    with _proxy(tmp_path, https_server, sink) as proxy:
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            _post(proxy, b"uid=1")
        sink.wait_for(lambda: bool(sink.errors))
    assert sink.flows == []  # nothing announced that was not written
    assert len(sink.errors) == 1
    assert "exited unexpectedly (exit code 3)" in sink.errors[0]
    assert "No space left on device" in sink.errors[0]


def test_killed_mitmdump_is_reported_and_flows_stay_readable(
        tmp_path: Path, https_server: ThreadingHTTPServer) -> None:
    sink = Sink()
    proxy = _proxy(tmp_path, https_server, sink)
    proxy.start()
    try:
        _post(proxy, b"first=1")
        sink.wait_for(lambda: len(sink.flows) == 1)
        assert proxy.pid is not None
        os.kill(proxy.pid, signal.SIGKILL)
        sink.wait_for(lambda: bool(sink.errors))
    finally:
        seen = proxy.stop()
    assert seen == 1
    assert "exited unexpectedly (exit code -9) after 1 flows" in sink.errors[0]
    assert proxy.errors == sink.errors
    dumped = _read_dump(tmp_path / "run" / "flows.mitm")
    assert [f.id for f in dumped] == [sink.flows[0]["id"]]
    assert dumped[0].request.raw_content == b"first=1"


def test_bad_resolve_entry_is_a_config_error(tmp_path: Path) -> None:
    proxy = MitmdumpProcess(tmp_path / "run", resolve=["tracker.test"],
                            on_flow=lambda _: None, on_error=lambda _: None)
    with pytest.raises(ConfigError, match="expected host\\[:port\\]=ip:port"):
        proxy.start()
    assert proxy.pid is None


def test_unresolved_upstream_is_still_verified(tmp_path: Path,
                                               https_server: ThreadingHTTPServer) -> None:
    # Same self-signed server, reached by its address instead of a resolve entry: mitmproxy
    # verifies it and refuses, so insecure TLS is limited to the stand-in connections.
    sink = Sink()
    with _proxy(tmp_path, https_server, sink) as proxy:
        with pytest.raises(urllib.error.HTTPError) as refused:
            _post(proxy, b"x=1", origin=f"https://127.0.0.1:{https_server.server_address[1]}")
        assert refused.value.code == 502
        sink.wait_for(lambda: len(sink.flows) == 1)
    assert sink.flows[0]["status"] is None
    assert "Certificate verify failed" in sink.flows[0]["error"]
    assert https_server.received == []  # type: ignore[attr-defined]


def test_stop_keeps_a_request_still_waiting_for_its_response(
        tmp_path: Path, https_server: ThreadingHTTPServer) -> None:
    sink = Sink()
    failures: list[BaseException] = []

    def send() -> None:
        try:
            _post(proxy, b"sent_before_stop=1", path="/slow")
        except BaseException as exc:  # the proxy goes away mid-request, as intended
            failures.append(exc)

    proxy = _proxy(tmp_path, https_server, sink)
    proxy.start()
    client = threading.Thread(target=send)
    client.start()
    sink.wait_for(lambda: bool(https_server.received))  # type: ignore[attr-defined]
    assert proxy.stop() == 1
    https_server.release.set()  # type: ignore[attr-defined]
    client.join(30)
    assert sink.errors == [] and len(failures) == 1
    flow = sink.flows[0]
    assert flow["status"] is None and "stopped before this flow completed" in flow["error"]
    assert base64.b64decode(flow["request_body_b64"]) == b"sent_before_stop=1"
    dumped = _read_dump(tmp_path / "run" / "flows.mitm")
    assert [f.id for f in dumped] == [flow["id"]]


def test_a_flow_the_recorder_cannot_take_is_reported(tmp_path: Path,
                                                     https_server: ThreadingHTTPServer) -> None:
    errors: list[str] = []

    def broken_recorder(payload: dict[str, Any]) -> None:
        raise OSError("No space left on device: events.jsonl")

    port = https_server.server_address[1]
    with MitmdumpProcess(tmp_path / "run", confdir=tmp_path / "conf",
                         resolve=[f"{HOST}=127.0.0.1:{port}"],
                         on_flow=broken_recorder, on_error=errors.append) as proxy:
        _post(proxy, b"a=1")
        deadline = time.monotonic() + 20
        while not errors and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(errors) == 1
    assert "recording flow" in errors[0] and "events.jsonl" in errors[0]
    assert "consentry: recording flow" in (tmp_path / "run" / "mitmdump.log").read_text()


def test_busy_port_fails_start_with_mitmdumps_reason(tmp_path: Path,
                                                     https_server: ThreadingHTTPServer) -> None:
    sink = Sink()
    with _proxy(tmp_path, https_server, sink) as first:
        second = MitmdumpProcess(tmp_path / "run2", confdir=tmp_path / "conf",
                                 listen_port=first.port, on_flow=sink.flows.append,
                                 on_error=sink.errors.append)
        with pytest.raises(CaptureError, match=r"(?s)exited with code.*address already in use"):
            second.start()
    assert sink.errors == []


def test_plain_http_is_resolved_too(tmp_path: Path) -> None:
    server = _QuietServer(("127.0.0.1", 0), _Collector)
    server.received = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sink = Sink()
    try:
        with MitmdumpProcess(tmp_path / "run", confdir=tmp_path / "conf",
                             resolve=[f"plain.test=127.0.0.1:{server.server_address[1]}"],
                             on_flow=sink.flows.append, on_error=sink.errors.append) as proxy:
            opener = urllib.request.build_opener(
                urllib.request.ProxyHandler({"http": f"http://127.0.0.1:{proxy.port}"}))
            with opener.open(urllib.request.Request("http://plain.test/c", data=b"k=v"),
                             timeout=20) as response:
                assert response.status == 200
            sink.wait_for(lambda: len(sink.flows) == 1)
    finally:
        server.shutdown()
        server.server_close()
    flow = sink.flows[0]
    assert (flow["url"], flow["host"], flow["port"]) == ("http://plain.test/c", "plain.test", 80)
    assert flow["tls"] is False and flow["sni"] is None and sink.errors == []
    assert server.received[0][1] == b"k=v"  # type: ignore[attr-defined]


def _ws_echo_server(cert: Path, key: Path) -> tuple[socket.socket, threading.Thread]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with context.wrap_socket(conn, server_side=True) as tls:
            ws = WSConnection(ConnectionType.SERVER)
            while data := tls.recv(65536):
                ws.receive_data(data)
                for event in ws.events():
                    if isinstance(event, Request):
                        tls.sendall(ws.send(AcceptConnection()))
                    elif isinstance(event, TextMessage):
                        tls.sendall(ws.send(Message(data="echo:" + event.data)))
                    elif isinstance(event, CloseConnection):
                        tls.sendall(ws.send(event.response()))
                        return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread


def _ws_client(proxy: MitmdumpProcess, host: str, text: str) -> list[str]:
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=20)
    sock.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += sock.recv(4096)
    assert b" 200 " in reply.split(b"\r\n")[0]
    context = ssl.create_default_context(cafile=str(proxy.ca_cert_path))
    received: list[str] = []
    with context.wrap_socket(sock, server_hostname=host) as tls:
        ws = WSConnection(ConnectionType.CLIENT)
        tls.sendall(ws.send(Request(host=host, target="/ws")))
        while data := tls.recv(65536):
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, AcceptConnection):
                    tls.sendall(ws.send(Message(data=text)))
                elif isinstance(event, TextMessage):
                    received.append(event.data)
                    tls.sendall(ws.send(CloseConnection(code=1000)))
                elif isinstance(event, CloseConnection):
                    return received
    return received


def test_websocket_flow_is_recorded_at_its_end(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    listener, server = _ws_echo_server(cert, key)
    sink = Sink()
    port = listener.getsockname()[1]
    try:
        with MitmdumpProcess(tmp_path / "run", confdir=tmp_path / "conf",
                             resolve=[f"{HOST}:443=127.0.0.1:{port}"],
                             on_flow=sink.flows.append, on_error=sink.errors.append) as proxy:
            assert _ws_client(proxy, HOST, "oaid=0000-1111") == ["echo:oaid=0000-1111"]
            sink.wait_for(lambda: len(sink.flows) == 1)
    finally:
        server.join(20)
        listener.close()
    flow = sink.flows[0]
    assert flow["status"] == 101 and flow["host"] == HOST and sink.errors == []
    messages = [(m["from_client"], base64.b64decode(m["content_b64"]))
                for m in flow["websocket_messages"]]
    assert messages == [(True, b"oaid=0000-1111"), (False, b"echo:oaid=0000-1111")]
    dumped = _read_dump(tmp_path / "run" / "flows.mitm")
    assert len(dumped) == 1 and dumped[0].websocket is not None
