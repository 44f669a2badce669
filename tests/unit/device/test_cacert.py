from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from fakeshell import FakeShell

from harness.device import cacert
from harness.errors import DeviceError, InputError
from tests.unit.certs import make_ca


def test_mitmproxy_ca_has_the_documented_android_file_name() -> None:
    # mitmproxy's CA subject is CN=mitmproxy, O=mitmproxy; its docs name the file c8750f0d.0
    assert cacert.ca_file_name(make_ca("mitmproxy", "mitmproxy")) == "c8750f0d.0"


@pytest.mark.parametrize("cn", ["mitmproxy", "consentry test CA", "Ünïcödé CA"])
def test_subject_hash_old_matches_openssl(tmp_path: Path, cn: str) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not installed")
    pem = make_ca(cn, "consentry")
    path = tmp_path / "ca.pem"
    path.write_bytes(pem)
    out = subprocess.run([openssl, "x509", "-subject_hash_old", "-noout", "-in", str(path)],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert cacert.subject_hash_old(pem) == out


def test_not_a_certificate_is_an_input_error() -> None:
    with pytest.raises(InputError, match="not a PEM X.509 certificate"):
        cacert.subject_hash_old(b"-----BEGIN NOTHING-----\n")


def test_android_13_uses_tmpfs_over_system_store() -> None:
    cmds = cacert.build_install(33, "/data/local/tmp/c8750f0d.0", "c8750f0d.0")
    assert "mount -t tmpfs tmpfs /system/etc/security/cacerts" in cmds
    assert ("cp /data/local/tmp/c8750f0d.0 /system/etc/security/cacerts/c8750f0d.0" in cmds)
    assert cmds.index("cp /data/local/tmp/consentry-cacerts/* /system/etc/security/cacerts/") \
        > cmds.index("mount -t tmpfs tmpfs /system/etc/security/cacerts")
    assert not any("nsenter" in c or "/apex/" in c for c in cmds)
    assert cacert.build_undo(33) == ["umount /system/etc/security/cacerts"]


def test_android_14_binds_into_zygote_and_app_namespaces() -> None:
    cmds = cacert.build_install(34, "/data/local/tmp/c8750f0d.0", "c8750f0d.0")
    assert "cp /apex/com.android.conscrypt/cacerts/* /data/local/tmp/consentry-cacerts/" in cmds
    ns = [c for c in cmds if "nsenter" in c]
    assert len(ns) == 2
    assert all("--bind /system/etc/security/cacerts /apex/com.android.conscrypt/cacerts" in c
               for c in ns)
    assert "pidof zygote" in ns[0] and "ps -o PID -P" in ns[1]
    assert any("nsenter" in c for c in cacert.build_verify(34, "c8750f0d.0"))


def test_install_ca_runs_as_root_and_verifies() -> None:
    pem = make_ca("mitmproxy", "mitmproxy")
    fake = FakeShell().on("^test -e /system/etc/security/cacerts/c8750f0d.0$", exit_code=1)
    fake.on("^su 0 sh -c ").on("^rm -f ")
    done = cacert.install_ca(fake, pem, sdk=30, root="su")
    assert done.name == "c8750f0d.0" and not done.already_trusted
    assert fake.files["/data/local/tmp/c8750f0d.0"] == pem
    rooted = [c for c in fake.log if c.startswith("su 0 sh -c")]
    assert rooted[-1] == "su 0 sh -c 'test -f /system/etc/security/cacerts/c8750f0d.0'"
    assert fake.log[-1] == "rm -f /data/local/tmp/c8750f0d.0"
    assert done.undo == ["umount /system/etc/security/cacerts"]
    assert fake.unscripted == []


def test_install_ca_failed_verification_undoes_and_raises() -> None:
    fake = FakeShell().on("^test -e ", exit_code=1).on("^su 0 sh -c ").on("^rm -f ")
    fake.on("^su 0 sh -c 'test -f", exit_code=1)
    with pytest.raises(DeviceError, match="Verifying the proxy CA"):
        cacert.install_ca(fake, make_ca("mitmproxy", "mitmproxy"), sdk=30, root="su")
    assert "su 0 sh -c 'umount /system/etc/security/cacerts'" in fake.log


def test_already_trusted_changes_nothing() -> None:
    fake = FakeShell().on("^test -e /apex/com.android.conscrypt/cacerts/c8750f0d.0$")
    done = cacert.install_ca(fake, make_ca("mitmproxy", "mitmproxy"), sdk=34, root=None)
    assert done.already_trusted and done.undo == []
    assert fake.log == ["test -e /apex/com.android.conscrypt/cacerts/c8750f0d.0"]


def test_no_root_says_how_to_get_it() -> None:
    fake = FakeShell().on("^test -e ", exit_code=1)
    with pytest.raises(DeviceError, match="needs root"):
        cacert.install_ca(fake, make_ca("mitmproxy", "mitmproxy"), sdk=33, root=None)
