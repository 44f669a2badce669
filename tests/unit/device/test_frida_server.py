from __future__ import annotations

import re
from pathlib import Path

import pytest
from fakeshell import FakeShell

from harness.device import frida_server
from harness.errors import DeviceError

SERVER = "/data/local/tmp/frida-server"


def test_release_name_maps_abi() -> None:
    assert frida_server.release_name("17.2.6", "arm64-v8a") == "frida-server-17.2.6-android-arm64"
    assert frida_server.release_name("17.2.6", "x86_64") == "frida-server-17.2.6-android-x86_64"


def test_missing_server_says_how_to_push_it() -> None:
    fake = FakeShell().on("^test -e ", exit_code=1).on("^pidof frida-server$", exit_code=1)
    with pytest.raises(DeviceError) as info:
        frida_server.ensure_running(fake, root="su", host_version="17.2.6", abi="arm64-v8a")
    msg = str(info.value)
    assert "frida-server-17.2.6-android-arm64" in msg and "matching frida 17.2.6" in msg
    assert f"push frida-server-17.2.6-android-arm64 {SERVER}" in msg
    assert not any("-D" in c for c in fake.log)  # nothing was started


def test_already_running_is_left_alone() -> None:
    fake = (FakeShell().on("^test -e ").on("--version$", "17.2.6\n")
            .on("^pidof frida-server$", "4821\n"))
    status = frida_server.ensure_running(fake, root="su", host_version="17.2.6", abi="x86_64")
    assert status.running and status.pids == [4821] and status.version == "17.2.6"
    assert not any("-D" in c for c in fake.log)


def test_starts_as_root_and_waits_until_running() -> None:
    fake = FakeShell().on("^test -e ").on("--version$", "17.2.6\n")
    fake.on("^pidof frida-server$", exit_code=1)
    started = f"su 0 sh -c 'chmod 755 {SERVER} && {SERVER} -D'"

    fake.before(f"^{re.escape(started)}$", lambda: fake.on("^pidof frida-server$", "9001\n"))
    fake.on(r"^su 0 sh -c 'chmod", "")
    status = frida_server.ensure_running(fake, root="su", host_version="17.2.6", abi="x86_64")
    assert status.pids == [9001]
    assert started in fake.log


def test_major_version_mismatch_is_an_error() -> None:
    fake = (FakeShell().on("^test -e ").on("--version$", "16.5.9\n")
            .on("^pidof frida-server$", "4821\n"))
    with pytest.raises(DeviceError, match="does not match host frida 17.2.6"):
        frida_server.ensure_running(fake, root="su", host_version="17.2.6", abi="x86_64")


def test_pidof_missing_falls_back_to_ps(android_data: Path) -> None:
    fake = FakeShell().on("^pidof ", "/system/bin/sh: pidof: not found", exit_code=127)
    fake.on("^ps -A$", (android_data / "ps_A.txt").read_text())
    assert frida_server.running_pids(fake) == [4821]


def test_no_root_cannot_start() -> None:
    fake = FakeShell().on("^test -e ").on("--version$", "17.2.6\n")
    fake.on("^pidof frida-server$", exit_code=1)
    with pytest.raises(DeviceError, match="needs root"):
        frida_server.ensure_running(fake, root=None, host_version="17.2.6", abi="x86_64")
