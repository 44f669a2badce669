"""The pytest plugin end to end: pytest runs in a subprocess (Frida state stays out of this
process) with the README's example against the real specimen (real Frida, agent, mitmdump,
tracker), and the device options' failure modes."""

from __future__ import annotations

import re
import socket
import socketserver
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.pytest_support.runner import unique_slug

pytestmark = pytest.mark.integration
pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> str:
    """The python block of the README section on pytest, as the user would copy it."""
    section = README.read_text(encoding="utf-8").split("## Scripted sessions in pytest", 1)[1]
    match = re.search(r"```python\n(.*?)```", section.split("\n## ", 1)[0], re.S)
    assert match, "README: no python example in 'Scripted sessions in pytest'"
    return match.group(1)


def test_readme_example_runs_real_sessions(pytester, jdk, agent_bundle):
    pytester.makepyfile(test_privacy=readme_example())
    result = pytester.runpytest_subprocess("--consentry-output", "runs", "--junitxml", "j.xml",
                                           "-p", "no:cacheprovider", timeout=600)
    result.assert_outcomes(passed=1, failed=1)
    runs = pytester.path / "runs"
    bundle = runs / unique_slug(
        "test_privacy.py::test_no_sdk_reads_identifiers_before_the_refusal") / "1-steps"
    result.stdout.fnmatch_lines([
        "consentry: target=local app=specimen (default) output=*",
    ])
    result.stdout.fnmatch_lines([
        "*AssertionError: expected no findings of collect-before-consent, send-before-consent*",
        "*- collect-before-consent: Umeng (com.umeng); android_id, imei; *x, first seen at *",
        "*    e.g. at com.umeng.*",
        "*- send-before-consent: Umeng (com.umeng); imei; *sent to alog.umeng.com",
        f"*bundle: {bundle}",
        "*- consentry runs -*",
        "scenario 'steps', specimen app (default) on the local target: complete, consent "
        "rejected, * finding(s)",
    ])
    # The failing test's evidence is all there and says what the message said.
    assert '"status": "complete"' in (bundle / "manifest.json").read_text()
    assert "collect-before-consent" in (bundle / "findings.json").read_text()
    assert (bundle / "report.html").is_file()
    # The passing test's bundle is gone; the failing one is named in the JUnit XML.
    assert sorted(p.name for p in runs.iterdir()) == [bundle.parent.name]
    cases = {c.get("name"): c for c in ET.parse(pytester.path / "j.xml").iter("testcase")}
    props = [(p.get("name"), p.get("value"))
             for p in cases["test_no_sdk_reads_identifiers_before_the_refusal"].iter("property")]
    assert props == [("consentry_bundle", str(bundle))]
    assert not list(cases["test_umeng_is_caught_before_consent"].iter("property"))


_DEVICE_TEST = """
def test_on_device(consentry):
    consentry.run("accept")
"""


class _EmptyAdbServer(socketserver.ThreadingTCPServer):
    """An adb server (its wire protocol) whose device list is empty."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _EmptyAdbHandler)


class _EmptyAdbHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        size = int(self.request.recv(4, socket.MSG_WAITALL) or b"0", 16)
        request = self.request.recv(size, socket.MSG_WAITALL).decode()
        reply = "" if request.startswith("host:devices") else "0029"  # host:version
        self.request.sendall(b"OKAY" + f"{len(reply):04x}{reply}".encode())


@pytest.fixture
def empty_adb_server(monkeypatch) -> Iterator[int]:
    server = _EmptyAdbServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(server.server_address[1]))
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _no_serial(monkeypatch) -> None:
    monkeypatch.delenv("ANDROID_SERIAL", raising=False)
    # Never let adbutils start a real adb server (a daemon that would outlive the test).
    monkeypatch.setenv("ADBUTILS_ADB_PATH", "/bin/false")


def test_android_with_no_device_attached_is_skipped_with_the_reason(pytester, monkeypatch,
                                                                    empty_adb_server):
    _no_serial(monkeypatch)
    pytester.makepyfile(test_device=_DEVICE_TEST)
    result = pytester.runpytest_subprocess("--consentry-package", "com.example.app", "-rs",
                                           "-p", "no:cacheprovider", timeout=300)
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED *consentry: no Android device attached (`adb "
                                 "devices` lists none in state `device`); attach one or pass "
                                 "--consentry-serial"])
    result.stdout.fnmatch_lines(["consentry: target=android app=com.example.app on the "
                                 "attached device output=*"])
    assert not (pytester.path / "consentry-runs").exists()


def test_android_with_no_adb_server_is_skipped_with_the_reason(pytester, monkeypatch):
    _no_serial(monkeypatch)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(probe.getsockname()[1]))
    pytester.makepyfile(test_device=_DEVICE_TEST)
    result = pytester.runpytest_subprocess("--consentry-package", "com.example.app", "-rs",
                                           "-p", "no:cacheprovider", timeout=300)
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED *consentry: no Android device (Cannot reach the adb "
                                 "server*"])


def test_android_without_a_package_is_a_usage_error(pytester):
    pytester.makepyfile(test_device=_DEVICE_TEST)
    result = pytester.runpytest_subprocess("--consentry-target", "android", timeout=300)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --consentry-target android needs --consentry-package "
                                 "PACKAGE*"])
