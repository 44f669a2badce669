"""WireGuard capture, host side, for real: the Session starts a real mitmdump in WireGuard mode
for an android target (scripted adb shell, no device), and the client config it hands the device
points at the endpoint the device uses, carries real Curve25519 keys that match mitmproxy's
server key, is saved in the run dir, and the UDP port is bound on every interface.

Not covered here: a WireGuard handshake. This container has no wireguard kernel module
(`ip link add wg0 type wireguard` fails: "Unknown device type") and no userspace client.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from harness.capture.proxy import MitmdumpProcess, free_udp_port
from harness.device import wireguard as wg
from harness.errors import ConfigError
from harness.scenario.loader import load_scenario
from harness.session import WIREGUARD_CONFIG_FILE, Session, SessionOptions, wireguard_target
from harness.targets.android import AndroidTarget
from harness.targets.base import AppSpec, WireGuardEndpoint
from tests.conftest import require_tool

pytestmark = pytest.mark.integration

_TESTS = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("fakeshell", _TESTS / "unit/device/fakeshell.py")
assert _spec is not None and _spec.loader is not None
fakeshell = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fakeshell)


def _session(tmp_path: Path, target: AndroidTarget, port: int) -> Session:
    options = SessionOptions(out=tmp_path / "run", capture="wireguard", wireguard_port=port,
                             mitm_confdir=tmp_path / "conf", analyze=False)
    return Session(target, AppSpec(package="com.example.shop"), load_scenario("accept"), options)


@contextlib.contextmanager
def started(session: Session) -> Iterator[tuple[MitmdumpProcess, WireGuardEndpoint | None]]:
    try:
        with contextlib.ExitStack() as stack:
            wireguard = wireguard_target(session.target, "wireguard")
            yield session._start_proxy(stack, wireguard)
    finally:
        session.recorder.close()


@pytest.mark.parametrize("serial, endpoint, expected", [
    ("emulator-5554", None, "10.0.2.2"),
    ("R58M123ABC", "192.0.2.7", "192.0.2.7"),
], ids=["emulator", "physical-device"])
def test_session_starts_a_wireguard_server_the_device_can_use(
        tmp_path: Path, serial: str, endpoint: str | None, expected: str) -> None:
    require_tool("mitmdump", "pip install mitmproxy")
    target = AndroidTarget(device=fakeshell.FakeShell(serial), wireguard_endpoint=endpoint,
                           host_frida_version="17.2.6")
    port = free_udp_port("0.0.0.0")
    session = _session(tmp_path, target, port)
    with started(session) as (proxy, tunnel):
        assert tunnel is not None
        device_copy = tunnel.config_file
        assert (tunnel.host, tunnel.port, proxy.port) == (expected, port, port)
        config = wg.parse_client_config(tunnel.client_config)
        assert config.endpoint == f"{expected}:{port}"
        assert config.allowed_ips == "0.0.0.0/0"
        # the keys are the ones mitmproxy's server holds, and real X25519 keys
        keys = json.loads((tmp_path / "conf" / "wireguard.conf").read_text())
        assert config.private_key == keys["client_key"]
        server = X25519PrivateKey.from_private_bytes(base64.b64decode(keys["server_key"]))
        assert wg.decode_key(config.peer_public_key) == server.public_key().public_bytes(
            Encoding.Raw, PublicFormat.Raw)
        # the device's copy, with the private key: user-only, outside the bundle, next to
        # mitmproxy's own key pair
        assert device_copy.parent == (tmp_path / "conf").resolve()
        assert device_copy.read_text() == tunnel.client_config
        wg_text = tunnel.client_config
        assert stat.S_IMODE(device_copy.stat().st_mode) == 0o600
        # the bundle's copy: the private key redacted, the client named by its public key
        saved = (tmp_path / "run" / WIREGUARD_CONFIG_FILE).read_text()
        assert keys["client_key"] not in saved and "PrivateKey = (redacted" in saved
        client = X25519PrivateKey.from_private_bytes(base64.b64decode(keys["client_key"]))
        client_public = base64.b64encode(client.public_key().public_bytes(
            Encoding.Raw, PublicFormat.Raw)).decode()
        assert f"# PublicKey of this client = {client_public}" in saved
        assert f"Endpoint = {expected}:{port}" in saved
        facts = session._capture_facts(proxy, tunnel)
        assert facts["mode"] == "wireguard" and facts["udp_port"] == port
        assert facts["endpoint"] == f"{expected}:{port}"
        assert facts["client_config"] == WIREGUARD_CONFIG_FILE
        assert facts["client_public_key"] == client_public
        assert keys["client_key"] not in json.dumps(facts)
        # mitmdump holds the UDP port on all interfaces (the device is not on loopback)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe, pytest.raises(OSError):
            probe.bind(("0.0.0.0", port))
    # kept after the run: a user without root imports it by hand, then runs again
    assert device_copy.read_text() == wg_text
    # stopped with the session: the port is free again
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("0.0.0.0", port))
    assert session._capture_error is None


def test_a_physical_device_without_endpoint_fails_before_mitmdump_starts(
        tmp_path: Path) -> None:
    device = fakeshell.FakeShell("R58M123ABC")
    device.on("^getprop$", "[ro.build.version.sdk]: [33]\n[ro.hardware]: [qcom]\n")
    target = AndroidTarget(device=device, host_frida_version="17.2.6")
    session = _session(tmp_path, target, free_udp_port("0.0.0.0"))
    with pytest.raises(ConfigError, match="--wireguard-endpoint"), started(session):
        pass
    assert not (tmp_path / "run" / "mitmdump.log").exists()


def test_a_tunnel_that_brought_no_traffic_marks_the_run_degraded(tmp_path: Path) -> None:
    # WireGuard has no handshake before traffic: an interface that is up proves nothing, so a
    # run whose capture saw no flow at all must not read as a clean capture.
    require_tool("mitmdump", "pip install mitmproxy")
    target = AndroidTarget(device=fakeshell.FakeShell("emulator-5554"),
                           host_frida_version="17.2.6")
    session = _session(tmp_path, target, free_udp_port("0.0.0.0"))
    with contextlib.ExitStack() as stack:
        proxy, _ = session._start_proxy(stack, wireguard_target(session.target, "wireguard"))
        assert proxy.flows_seen == 0
        session._finish("complete", None)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert any("wireguard capture saw no traffic" in d for d in manifest["degraded"])
