"""The local HTTPS tracker: real TLS on 127.0.0.1, requests recorded."""

from __future__ import annotations

import http.client
import socket
import ssl

import pytest
from cryptography import x509

from harness.errors import CaptureError
from harness.specimen.tracker import TrackerServer


def test_records_requests_over_tls_for_the_tracker_names() -> None:
    with TrackerServer() as tracker:
        cert = x509.load_pem_x509_certificate(tracker.cert_pem.read_bytes())
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert "alog.umeng.com" in names.get_values_for_type(x509.DNSName)

        context = ssl.create_default_context(cafile=str(tracker.cert_pem))
        raw = socket.create_connection(tracker.address, timeout=10)
        # As through the proxy: connect to the address, verify the tracker's real name.
        tls = context.wrap_socket(raw, server_hostname="alog.umeng.com")
        conn = http.client.HTTPSConnection("alog.umeng.com", timeout=10, context=context)
        conn.sock = tls
        conn.request("POST", "/app_logs", body=b'{"a":1}',
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b'{"ok":true}')
        conn.close()

        [request] = tracker.wait_for(lambda reqs: len(reqs) == 1, timeout=5)
        assert (request.method, request.path, request.body) == ("POST", "/app_logs", b'{"a":1}')
        assert request.headers["Content-Type"] == "application/json"
    assert not tracker.cert_pem.exists()  # temp files go with the server


def test_untrusting_clients_fail_the_handshake() -> None:
    with TrackerServer() as tracker:
        conn = http.client.HTTPSConnection("127.0.0.1", tracker.port, timeout=10,
                                           context=ssl.create_default_context())
        with pytest.raises(ssl.SSLCertVerificationError):
            conn.request("GET", "/")
        assert tracker.requests == []


def test_wait_for_times_out_loudly() -> None:
    with TrackerServer() as tracker, pytest.raises(CaptureError, match="got 0"):
        tracker.wait_for(lambda reqs: len(reqs) > 0, timeout=0.2)
