"""Pure builders of the ``adb shell`` command lines consentry runs. No I/O here.

Every builder returns one ``sh`` command line (quoted with :func:`shlex.quote` where a value
comes from outside), so the exact text is testable and appears verbatim in error messages.
"""

from __future__ import annotations

import shlex
from typing import Literal

FRIDA_SERVER_PATH = "/data/local/tmp/frida-server"
SHELL_PACKAGE = "com.android.shell"
ADID_SETTINGS = "/data/data/com.google.android.gms/shared_prefs/adid_settings.xml"


def q(value: str) -> str:
    return shlex.quote(value)


def as_root(command: str, mode: Literal["adbd", "su"]) -> str:
    """Run ``command`` as root: directly when adbd is root, else via AOSP/Magisk ``su 0``."""
    if mode == "adbd":
        return command
    return f"su 0 sh -c {q(command)}"


def uid() -> str:
    return "id -u"


def getprop() -> str:
    return "getprop"


# --- packages ---------------------------------------------------------------------------

def pm_path(package: str) -> str:
    return f"pm path {q(package)}"


def pm_clear(package: str) -> str:
    return f"pm clear {q(package)}"


def dumpsys_package(package: str) -> str:
    return f"dumpsys package {q(package)}"


def force_stop(package: str) -> str:
    return f"am force-stop {q(package)}"


def pidof(process: str) -> str:
    return f"pidof {q(process)}"


def sha256sum(path: str) -> str:
    return f"sha256sum {q(path)}"


# --- proxy ------------------------------------------------------------------------------

def get_global_http_proxy() -> str:
    return "settings get global http_proxy"


def set_global_http_proxy(host: str, port: int) -> str:
    return f"settings put global http_proxy {q(f'{host}:{port}')}"


def clear_global_http_proxy() -> str:
    # ":0" takes effect at once; `settings delete` only after a reboot.
    return "settings put global http_proxy :0"


def restore_global_http_proxy(previous: str | None) -> str:
    """Put back the value read before the run (None/"null"/":0" means there was none)."""
    if previous is None or previous in ("null", ":0", ""):
        return clear_global_http_proxy()
    return f"settings put global http_proxy {q(previous)}"


def reverse_spec(port: int) -> str:
    return f"tcp:{port}"


# --- ground truth ----------------------------------------------------------------------

def service_call_iphonesubinfo(code: int, calling_package: str = SHELL_PACKAGE) -> str:
    return f"service call iphonesubinfo {code} s16 {q(calling_package)}"


def android_id() -> str:
    return "settings get secure android_id"


def wlan_mac(interface: str = "wlan0") -> str:
    return f"cat {q(f'/sys/class/net/{interface}/address')}"


def dumpsys_wifi() -> str:
    return "dumpsys wifi"


def dumpsys_location() -> str:
    return "dumpsys location"


def cat(path: str) -> str:
    return f"cat {q(path)}"


# --- frida-server -----------------------------------------------------------------------

def frida_server_pidof() -> str:
    return "pidof frida-server"


def ps_all() -> str:
    return "ps -A"


def frida_server_version(path: str = FRIDA_SERVER_PATH) -> str:
    return f"{q(path)} --version"


def file_exists(path: str) -> str:
    return f"test -e {q(path)}"


def frida_server_start(path: str = FRIDA_SERVER_PATH, *, listen: str | None = None) -> str:
    """Start frida-server; ``-D`` daemonizes it so the adb shell returns at once."""
    listen_arg = f" -l {q(listen)}" if listen else ""
    return f"chmod 755 {q(path)} && {q(path)} -D{listen_arg}"


def kill(pid: int) -> str:
    return f"kill {int(pid)}"
