"""WireGuard capture on a real device or emulator: the official WireGuard app brings the
consentry tunnel up to a real mitmdump, and close() puts the app back as it was.

Run: ANDROID_SERIAL=emulator-5554 python -m pytest tests/device/test_wireguard.py -m device
Needs root (`adb root` on an emulator image without Google Play) and com.wireguard.android
installed; otherwise skipped with the reason. On a physical device set
CONSENTRY_WIREGUARD_ENDPOINT to this machine's LAN address.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.capture.proxy import MitmdumpProcess, free_udp_port
from harness.device import commands, parsers
from harness.device import wireguard as wg
from harness.errors import DeviceError
from harness.targets.android import AndroidTarget
from harness.targets.base import AppSpec, WireGuardEndpoint

pytestmark = pytest.mark.device

SETTINGS = "com.android.settings"  # on every device, safe to run without clearing


@pytest.fixture
def target(device_serial: str) -> Iterator[AndroidTarget]:
    t = AndroidTarget(device_serial, require_ca=False,
                      wireguard_endpoint=os.environ.get("CONSENTRY_WIREGUARD_ENDPOINT"))
    if not parsers.parse_pm_path(t.device.shell(commands.pm_path(wg.PACKAGE)).output):
        pytest.skip(f"{wg.PACKAGE} is not installed on {device_serial}: {wg.INSTALL_HINT}")
    if t.root is None:
        pytest.skip(f"no root on {device_serial} (`adb root` or su): the tunnel cannot be set "
                    "up automatically")
    try:
        yield t
    finally:
        t.close()


def _app_state(t: AndroidTarget) -> tuple[list[str], str, str | None]:
    """The app's tunnel files, its preferences' hash and its VPN consent."""
    root = t.root
    assert root is not None
    listing = t.device.shell(commands.as_root(f"ls {wg.files_dir()}", root)).output
    prefs = t.device.shell(commands.as_root(commands.sha256sum(wg.datastore_path()), root))
    appops = t.device.shell(wg.appops_get()).output
    return (sorted(name for name in listing.split() if name.endswith(".conf")),
            prefs.output.split()[0] if prefs.ok else "absent", wg.parse_appops_mode(appops))


def test_tunnel_comes_up_and_is_undone(target: AndroidTarget, tmp_path: Path) -> None:
    before = _app_state(target)
    proxy = MitmdumpProcess(tmp_path / "run", listen_host=target.wireguard_listen_host(),
                            listen_port=free_udp_port("0.0.0.0"), mode="wireguard",
                            on_flow=lambda _: None, on_error=lambda _: None)
    with proxy:
        host = target.wireguard_endpoint_host()
        config = proxy.wireguard_client_config(host)
        saved = tmp_path / "wireguard-client.conf"
        saved.write_text(config)
        endpoint = WireGuardEndpoint(host=host, port=proxy.port, client_config=config,
                                     config_file=saved, ca_pem=proxy.ca_cert_path)
        try:
            facts = target.prepare_wireguard(AppSpec(package=SETTINGS), endpoint, clear=False)
            assert facts["wireguard"]["managed"] is True
        except DeviceError as exc:  # no frida-server pushed: the tunnel part ran before it
            if "frida-server" not in str(exc):
                raise
        network = wg.tunnel_up(target.device.shell(wg.dumpsys_connectivity()).output)
        assert network is not None and network.interface
        target.close()
    assert wg.tunnel_up(target.device.shell(wg.dumpsys_connectivity()).output) is None
    assert _app_state(target) == before
