"""A local HTTPS "tracker": where the specimen's SDKs send what they collected.

It listens on 127.0.0.1 with a self-signed certificate for the trackers' host names (made with
``cryptography``), records every request in memory and answers ``200 {"ok":true}``. The proxy
maps ``alog.umeng.com:443`` to it, so no DNS is involved.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness.errors import CaptureError
from harness.specimen.facts import TRACKER_HOSTS


@dataclass(frozen=True, slots=True)
class TrackerRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    t: float


def make_certificate(hosts: tuple[str, ...], directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate (and its key) for ``hosts`` plus 127.0.0.1; PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    now = datetime.datetime.now(datetime.UTC)
    alt_names: list[x509.GeneralName] = [x509.DNSName(h) for h in hosts]
    alt_names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "tracker-cert.pem"
    key_path = directory / "tracker-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class TrackerServer:
    """``with TrackerServer() as tracker:`` ... ``tracker.requests``, ``tracker.url("/p")``."""

    def __init__(self, hosts: tuple[str, ...] = TRACKER_HOSTS) -> None:
        self.hosts = hosts
        self.requests: list[TrackerRequest] = []
        self._lock = threading.Condition()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.cert_pem = Path()
        self.port = 0

    def __enter__(self) -> TrackerServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="consentry-tracker-")
        cert, key = make_certificate(self.hosts, Path(self._tmp.name))
        self.cert_pem = cert
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self._record))
        server.daemon_threads = True
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, name="tracker",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def url(self, path: str = "/app_logs") -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def wait_for(self, predicate: Callable[[list[TrackerRequest]], bool],
                 timeout: float = 15.0) -> list[TrackerRequest]:
        """Block until ``predicate(requests)`` holds; a CaptureError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(self.requests):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CaptureError(
                        f"the tracker on {self.url('')} did not get the expected requests "
                        f"within {timeout:.0f}s; it got {len(self.requests)}: "
                        f"{[(r.method, r.path) for r in self.requests]}"
                    )
                self._lock.wait(left)
            return list(self.requests)

    def _record(self, request: TrackerRequest) -> None:
        with self._lock:
            self.requests.append(request)
            self._lock.notify_all()


def _handler_for(record: Callable[[TrackerRequest], None]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            record(TrackerRequest(self.command, self.path, dict(self.headers.items()), body,
                                  time.time()))
            payload = b'{"ok":true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass  # requests are recorded, not logged

    return Handler
