"""The consentry addon, loaded into ``mitmdump -s harness/capture/addon.py``.

Stdout protocol, one line each, read by :class:`harness.capture.proxy.MitmdumpProcess`:

``CONSENTRY-READY <host>:<port>``  the proxy listens (real bound port, also for port 0)
``CONSENTRY-FLOW <json>``          a completed flow, already fsync'ed to ``consentry_flows``
``CONSENTRY-WIREGUARD <json str>`` (``--mode wireguard@PORT`` only) the client configuration
                                   mitmproxy generated, before the READY line

Every completed flow is written to ``flows.mitm`` before it is announced. If that write fails
the process exits non-zero (like mitmproxy's own ``save`` addon): traffic must never pass
unrecorded.

``consentry_resolve`` works like ``curl --resolve``: ``host[:port]=ip:port`` sends connections
for ``host`` to ``ip:port`` while the flow keeps the real host name (and the TLS SNI). Upstream
certificates of resolved connections are not verified (that connection goes to a stand-in
server by design); every other connection is verified unless ``ssl_insecure`` is set.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, NoReturn

from mitmproxy import connection, ctx, http, io, tls
from mitmproxy.addonmanager import Loader
from mitmproxy.exceptions import FlowReadException, OptionsError
from mitmproxy.flow import Error
from mitmproxy.proxy import server_hooks
from OpenSSL import SSL

try:
    from harness.capture.protocol import (
        DEFAULT_BODY_CAP,
        FLOW_PREFIX,
        READY_PREFIX,
        ResolveTable,
        lookup,
        parse_resolve,
    )
    from harness.capture.proxy import WIREGUARD_PREFIX
    from harness.capture.record import flow_payload
except ModuleNotFoundError:  # mitmdump from another environment: use this checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from harness.capture.protocol import (
        DEFAULT_BODY_CAP,
        FLOW_PREFIX,
        READY_PREFIX,
        ResolveTable,
        lookup,
        parse_resolve,
    )
    from harness.capture.proxy import WIREGUARD_PREFIX
    from harness.capture.record import flow_payload

EXIT_FLOWS_UNWRITABLE = 3
STOPPED_BEFORE_COMPLETE = "consentry: the proxy stopped before this flow completed"


def _die(message: str) -> NoReturn:
    # Logging may be quiet or broken at this point; stderr is what the harness reads.
    sys.stderr.write(f"consentry: {message}\n")
    sys.stderr.flush()
    os._exit(EXIT_FLOWS_UNWRITABLE)  # no graceful shutdown: nothing more may pass unrecorded


def _count_flows(path: Path) -> int:
    """Flows already in ``path`` (a restarted proxy appends; indexes keep counting)."""
    if not path.is_file() or path.stat().st_size == 0:
        return 0
    with path.open("rb") as fo:
        try:
            return sum(1 for _ in io.FlowReader(fo).stream())
        except FlowReadException as exc:
            _die(f"{path} exists but is not a flow dump ({exc}); use a fresh run directory")


class ConsentryCapture:
    def __init__(self) -> None:
        self._stream: IO[bytes] | None = None
        self._writer: io.FlowWriter | None = None
        self._path: Path | None = None
        self._count = 0
        self._resolve: ResolveTable = {}
        self._resolved: dict[str, tuple[str, int]] = {}  # server id -> address asked for
        self._written: set[str] = set()
        self._in_flight: dict[str, http.HTTPFlow] = {}

    def load(self, loader: Loader) -> None:
        loader.add_option("consentry_flows", str, "",
                          "Append every completed flow to this file (required).")
        loader.add_option("consentry_resolve", Sequence[str], [],
                          "host[:port]=ip:port: connect to ip:port for host, keep the host name.")
        loader.add_option("consentry_body_cap", int, DEFAULT_BODY_CAP,
                          "Bytes of each body copied into the CONSENTRY-FLOW line.")

    def configure(self, updated: set[str]) -> None:
        if "consentry_resolve" in updated:
            try:
                self._resolve = parse_resolve(ctx.options.consentry_resolve)
            except ValueError as exc:
                raise OptionsError(  # type: ignore[no-untyped-call]
                    f"consentry_resolve: {exc}") from exc
        if "consentry_flows" in updated and ctx.options.consentry_flows:
            self._open(Path(ctx.options.consentry_flows))

    def _open(self, path: Path) -> None:
        self._close()
        self._count = _count_flows(path)
        try:
            self._stream = path.open("ab")
        except OSError as exc:
            _die(f"cannot write flows to {path}: {exc}; make the run directory writable")
        self._writer = io.FlowWriter(self._stream)  # type: ignore[no-untyped-call]
        self._path = path

    def _close(self) -> None:
        if self._stream is not None:
            self._stream.close()
        self._stream = self._writer = None

    def running(self) -> None:
        if self._writer is None:
            _die("option consentry_flows is not set; the harness must pass a flows.mitm path")
        proxyserver: Any = ctx.master.addons.get("proxyserver")  # type: ignore[no-untyped-call]
        addrs = proxyserver.listen_addrs() if proxyserver is not None else []
        if not addrs:
            _die("mitmproxy is running but listens nowhere; check listen_host/listen_port")
        for instance in getattr(proxyserver, "servers", []):
            client_conf = getattr(instance, "client_conf", None)  # WireGuard servers only
            if callable(client_conf) and client_conf():
                print(f"{WIREGUARD_PREFIX}{json.dumps(client_conf())}", flush=True)
        host, port = addrs[0][0], addrs[0][1]
        print(f"{READY_PREFIX}{host}:{port}", flush=True)

    def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        address = data.server.address
        if address is None or not self._resolve:
            return
        host = str(address[0]).lower()
        target = lookup(self._resolve, host, int(address[1]))
        if target is None:
            return
        if data.server.sni is None:
            data.server.sni = host  # the name the client asked for, not the stand-in's IP
        self._resolved[data.server.id] = (address[0], address[1])
        data.server.address = target

    def server_connected(self, data: server_hooks.ServerConnectionHookData) -> None:
        # Connected (peername records the stand-in): give the connection its real name back, so
        # requests in the tunnel keep host:port of the app's CONNECT and the connection is
        # reused for them. mitmproxy guards address on open connections against addons that
        # think this re-routes; here it only restores the name.
        original = self._resolved.get(data.server.id)
        if original is not None:
            object.__setattr__(data.server, "address", original)

    def server_disconnected(self, data: server_hooks.ServerConnectionHookData) -> None:
        self._resolved.pop(data.server.id, None)

    def tls_start_server(self, tls_start: tls.TlsData) -> None:
        server = tls_start.conn
        if not isinstance(server, connection.Server) or server.id not in self._resolved:
            return
        # Scripts run before mitmproxy's tlsconfig: let it build the connection (SNI, ALPN,
        # ciphers), then drop verification for this stand-in connection only.
        tlsconfig: Any = ctx.master.addons.get("tlsconfig")  # type: ignore[no-untyped-call]
        if tls_start.ssl_conn is None and tlsconfig is not None:
            tlsconfig.tls_start_server(tls_start)
        if tls_start.ssl_conn is not None:
            tls_start.ssl_conn.set_verify(SSL.VERIFY_NONE)

    def request(self, flow: http.HTTPFlow) -> None:
        self._in_flight[flow.id] = flow

    def response(self, flow: http.HTTPFlow) -> None:
        if flow.websocket is None:  # websocket flows are complete at websocket_end
            self._save(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        if flow.websocket is None:
            self._save(flow)

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        self._save(flow)

    def _save(self, flow: http.HTTPFlow) -> None:
        if flow.id in self._written:
            return
        if self._writer is None or self._stream is None:
            _die("a flow completed but no flows file is open; set consentry_flows")
        try:
            self._writer.add(flow)
            self._stream.flush()
            os.fsync(self._stream.fileno())
        except OSError as exc:
            _die(f"cannot write flows to {self._path}: {exc}; "
                 "the capture is incomplete, free space or fix permissions and rerun")
        self._written.add(flow.id)
        self._in_flight.pop(flow.id, None)
        payload = flow_payload(flow, self._count, body_cap=ctx.options.consentry_body_cap)
        self._count += 1
        sys.stdout.write(FLOW_PREFIX + json.dumps(payload, separators=(",", ":")) + "\n")
        sys.stdout.flush()

    def done(self) -> None:
        # The request of an unfinished flow was sent (and may carry personal data): keep it.
        for pending in list(self._in_flight.values()):
            if pending.error is None:
                pending.error = Error(STOPPED_BEFORE_COMPLETE)
            self._save(pending)
        self._close()


addons = [ConsentryCapture()]
