"""Trust the mitmproxy CA in the system store of a rooted device or emulator.

Android names system CA files ``<subject_hash_old>.0``. Where the store lives and how it can
be changed depends on the release:

* Android <= 13 (SDK <= 33): ``/system/etc/security/cacerts``. We mount a tmpfs over it holding
  a copy of the store plus our CA, so no ``remount`` of a verity-protected /system is needed
  and ``umount`` undoes it.
* Android 14+ (SDK >= 34): the store comes from the Conscrypt APEX,
  ``/apex/com.android.conscrypt/cacerts``, and each app sees the one mounted in zygote's mount
  namespace. We build the same tmpfs store, then bind-mount it over the APEX directory inside
  zygote's namespace (new apps) and in each running app's namespace, via ``nsenter``.
  (Technique as published by HTTP Toolkit, "Android 14 CA certificate injection".)

The changes are in memory only: a reboot always restores the original store.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from harness.device import commands
from harness.device.shell import DeviceShell, RootMode, root_shell
from harness.errors import DeviceError, InputError

log = logging.getLogger(__name__)

SYSTEM_STORE = "/system/etc/security/cacerts"
APEX_STORE = "/apex/com.android.conscrypt/cacerts"
STAGING = "/data/local/tmp/consentry-cacerts"


def subject_hash_old(pem: bytes) -> str:
    """OpenSSL's ``x509 -subject_hash_old``: MD5 of the DER subject, first 4 bytes, LE."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise InputError(f"CA certificate is not a PEM X.509 certificate ({exc}); pass "
                         "mitmproxy's ~/.mitmproxy/mitmproxy-ca-cert.pem") from exc
    digest = hashlib.md5(cert.subject.public_bytes(), usedforsecurity=False).digest()
    return f"{int.from_bytes(digest[:4], 'little'):08x}"


def ca_file_name(pem: bytes) -> str:
    return f"{subject_hash_old(pem)}.0"


def store_for_sdk(sdk: int) -> str:
    return APEX_STORE if sdk >= 34 else SYSTEM_STORE


def build_tmpfs_store(source_store: str, staged_ca: str, name: str) -> list[str]:
    """Replace /system/etc/security/cacerts with a tmpfs holding source_store + our CA."""
    return [
        f"rm -rf {STAGING} && mkdir -p -m 700 {STAGING}",
        f"cp {source_store}/* {STAGING}/",
        f"mount -t tmpfs tmpfs {SYSTEM_STORE}",
        f"cp {STAGING}/* {SYSTEM_STORE}/",
        f"cp {commands.q(staged_ca)} {SYSTEM_STORE}/{name}",
        f"chown root:root {SYSTEM_STORE}/*",
        f"chmod 644 {SYSTEM_STORE}/*",
        f"chcon u:object_r:system_file:s0 {SYSTEM_STORE}/*",
        f"rm -rf {STAGING}",
    ]


_ZYGOTES = "$(pidof zygote) $(pidof zygote64)"


def build_apex_injection() -> list[str]:
    """Bind the tmpfs store over the APEX store in zygote's and every app's namespace."""
    bind = f"/system/bin/mount --bind {SYSTEM_STORE} {APEX_STORE}"
    return [
        # our own namespace, so verification from this shell sees the result
        f"mount --bind {SYSTEM_STORE} {APEX_STORE}",
        f"for z in {_ZYGOTES}; do nsenter --mount=/proc/$z/ns/mnt -- {bind}; done",
        f"for z in {_ZYGOTES}; do for p in $(ps -o PID -P $z | grep -v PID); do "
        f"nsenter --mount=/proc/$p/ns/mnt -- {bind}; done; done",
    ]


def build_install(sdk: int, staged_ca: str, name: str) -> list[str]:
    """All root commands that make the CA at ``staged_ca`` a trusted system CA."""
    if sdk >= 34:
        return build_tmpfs_store(APEX_STORE, staged_ca, name) + build_apex_injection()
    return build_tmpfs_store(SYSTEM_STORE, staged_ca, name)


def build_undo(sdk: int) -> list[str]:
    """Best-effort undo (a reboot is the complete one); apps started later see the original."""
    undo = []
    if sdk >= 34:
        undo.append(f"for z in {_ZYGOTES}; do nsenter --mount=/proc/$z/ns/mnt -- "
                    f"/system/bin/umount {APEX_STORE}; done")
        undo.append(f"umount {APEX_STORE}")
    undo.append(f"umount {SYSTEM_STORE}")
    return undo


def build_verify(sdk: int, name: str) -> list[str]:
    checks = [f"test -f {store_for_sdk(sdk)}/{name}"]
    if sdk >= 34:
        z = "$(pidof zygote64 || pidof zygote)"
        checks.append(f"nsenter --mount=/proc/$(echo {z} | cut -d' ' -f1)/ns/mnt -- "
                      f"test -f {APEX_STORE}/{name}")
    return checks


@dataclass(slots=True)
class CaInstall:
    name: str
    """``<subject_hash_old>.0``"""
    already_trusted: bool
    undo: list[str] = field(default_factory=list)
    """Root commands for :meth:`AndroidTarget.close`; empty when nothing was changed."""


def is_trusted(device: DeviceShell, sdk: int, name: str) -> bool:
    return device.shell(commands.file_exists(f"{store_for_sdk(sdk)}/{name}")).ok


def install_ca(device: DeviceShell, pem: bytes, *, sdk: int, root: RootMode | None) -> CaInstall:
    """Make ``pem`` a trusted system CA on ``device`` and verify it; returns how to undo."""
    name = ca_file_name(pem)
    if is_trusted(device, sdk, name):
        log.info("CA %s already in the system store of %s", name, device.serial)
        return CaInstall(name=name, already_trusted=True)
    if root is None:
        raise DeviceError(
            f"Trusting the proxy CA on {device.serial} needs root: use an emulator image "
            "without Google Play (`adb root` works there) or a rooted device, or pre-install "
            f"the CA as {store_for_sdk(sdk)}/{name} yourself"
        )
    staged = f"/data/local/tmp/{name}"
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / name
        local.write_bytes(pem)
        device.push(local, staged)
    undo = build_undo(sdk)
    try:
        for command in build_install(sdk, staged, name):
            root_shell(device, root, command, what="Installing the proxy CA")
        for command in build_verify(sdk, name):
            root_shell(device, root, command, what=f"Verifying the proxy CA {name} is trusted")
    except DeviceError:
        for command in undo:
            device.shell(commands.as_root(command, root))
        raise
    finally:
        device.shell(f"rm -f {commands.q(staged)}")
    return CaInstall(name=name, already_trusted=False, undo=undo)
