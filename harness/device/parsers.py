"""Pure parsers of the outputs of the commands in :mod:`harness.device.commands`.

Each takes the text ``adb shell`` printed and returns plain values; "not there" is ``None``
(or an empty list), so callers decide whether absence is an error.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

_GETPROP = re.compile(r"^\[([^\]\n]*)\]: \[(.*?)\]$", re.MULTILINE | re.DOTALL)


def parse_getprop(text: str) -> dict[str, str]:
    """``[key]: [value]`` lines; a value may span lines (it ends at the next ``]`` + EOL)."""
    return {m.group(1): m.group(2) for m in _GETPROP.finditer(text.replace("\r\n", "\n"))}


def parse_pm_path(text: str) -> list[str]:
    """``package:/data/app/.../base.apk`` lines (split APKs give several)."""
    return [line.strip()[len("package:"):] for line in text.splitlines()
            if line.strip().startswith("package:")]


@dataclass(frozen=True, slots=True)
class PackageVersion:
    version_name: str | None
    version_code: int | None


_VERSION_CODE = re.compile(r"^\s*versionCode=(\d+)", re.MULTILINE)
_VERSION_NAME = re.compile(r"^\s*versionName=(.*)$", re.MULTILINE)


def parse_package_version(text: str) -> PackageVersion:
    """versionName/versionCode of the first package record in ``dumpsys package PKG``.

    An updated system app lists the installed version first, then the factory one under
    "Hidden system packages", so the first record is the one that runs.
    """
    code = _VERSION_CODE.search(text)
    name = _VERSION_NAME.search(text)
    return PackageVersion(
        version_name=name.group(1).strip() if name else None,
        version_code=int(code.group(1)) if code else None,
    )


def parse_pidof(text: str) -> list[int]:
    """``pidof`` prints space-separated pids, or nothing (exit 1) when none run."""
    return [int(tok) for tok in text.split() if tok.isdigit()]


def parse_ps_pids(text: str, name: str) -> list[int]:
    """Pids whose NAME column (last) equals ``name`` in ``ps -A`` output (toybox format)."""
    pids: list[int] = []
    for line in text.splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 3 and cols[-1] == name and cols[1].isdigit():
            pids.append(int(cols[1]))
    return pids


_PARCEL_OFFSET = re.compile(r"0x[0-9a-fA-F]{8}:")
_PARCEL_WORD = re.compile(r"\b[0-9a-fA-F]{8}\b")


def parcel_bytes(text: str) -> bytes:
    """The raw bytes of a ``service call`` ``Result: Parcel(...)`` dump.

    Each line shows 32-bit words in hex, then the same bytes as characters in quotes; the
    words are little-endian, so ``00360038`` is the bytes ``38 00 36 00``.
    """
    out = bytearray()
    for line in text.splitlines():
        hex_part = _PARCEL_OFFSET.sub("", line.split("'", 1)[0])
        for word in _PARCEL_WORD.findall(hex_part):
            out += int(word, 16).to_bytes(4, "little")
    return bytes(out)


def parse_parcel_string(text: str) -> str | None:
    """The String a binder call returned, or None (exception, null string, no parcel).

    Reply layout: int32 exception code (0 = none), int32 length in UTF-16 units
    (-1 = null), then the UTF-16LE characters.
    """
    if "Parcel(" not in text:
        return None
    data = parcel_bytes(text)
    if len(data) < 8:
        return None
    status = int.from_bytes(data[0:4], "little", signed=True)
    length = int.from_bytes(data[4:8], "little", signed=True)
    if status != 0 or length <= 0 or len(data) < 8 + 2 * length:
        return None
    return data[8:8 + 2 * length].decode("utf-16-le", errors="replace")


def parse_settings_value(text: str) -> str | None:
    """``settings get`` prints ``null`` for a missing key."""
    value = text.strip()
    return None if value in ("", "null") else value


_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
#: Placeholders Android reports instead of a real address (privacy redaction, no link).
_PLACEHOLDER_MACS = frozenset({"02:00:00:00:00:00", "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"})


def parse_mac(text: str) -> str | None:
    value = text.strip().lower()
    if not _MAC.match(value) or value in _PLACEHOLDER_MACS:
        return None
    return value


@dataclass(frozen=True, slots=True)
class WifiInfo:
    ssid: str | None
    bssid: str | None
    mac: str | None


_WIFI_INFO = re.compile(
    r"mWifiInfo\s+SSID: (?P<ssid>.*?), BSSID: (?P<bssid>[^,]*), MAC: (?P<mac>[^,]*),")


def parse_wifi_info(text: str) -> WifiInfo | None:
    """The connection from the ``mWifiInfo SSID: "x", BSSID: .., MAC: .., ...`` line."""
    m = _WIFI_INFO.search(text)
    if m is None:
        return None
    ssid: str | None = m.group("ssid").strip()
    if ssid is not None and len(ssid) >= 2 and ssid.startswith('"') and ssid.endswith('"'):
        ssid = ssid[1:-1]
    if not ssid or ssid in ("<unknown ssid>", "0x"):
        ssid = None
    return WifiInfo(ssid=ssid, bssid=parse_mac(m.group("bssid")), mac=parse_mac(m.group("mac")))


def parse_adid(xml_text: str) -> str | None:
    """``adid_key`` from Play services' ``adid_settings.xml`` SharedPreferences file."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError:
        return None
    for element in root.iter("string"):
        if element.get("name") == "adid_key" and element.text:
            return element.text.strip()
    return None


_LOCATION = re.compile(r"Location\[(?P<provider>\S+) (?P<lat>-?\d+\.\d+),(?P<lon>-?\d+\.\d+)")


def parse_last_known_locations(text: str) -> list[tuple[str, float, float]]:
    """(provider, lat, lon) under ``Last Known Locations:`` in ``dumpsys location``."""
    found: list[tuple[str, float, float]] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() != "Last Known Locations:":
            continue
        indent = len(line) - len(line.lstrip())
        for entry in lines[i + 1:]:
            if not entry.strip() or len(entry) - len(entry.lstrip()) <= indent:
                break
            m = _LOCATION.search(entry)
            if m:
                found.append((m.group("provider"), float(m.group("lat")), float(m.group("lon"))))
    return found


_VERSION = re.compile(r"^\d+\.\d+\.\d+\S*$")


def parse_frida_version(text: str) -> str | None:
    """``frida-server --version`` prints just ``17.2.6``."""
    value = text.strip()
    return value if _VERSION.match(value) else None


def parse_sha256sum(text: str) -> str | None:
    token = text.strip().split(" ", 1)[0].lower()
    return token if re.fullmatch(r"[0-9a-f]{64}", token) else None


def parse_adb_devices(text: str) -> list[str]:
    """Serials in state ``device`` from host ``adb devices [-l]`` (skips daemon chatter)."""
    serials: list[str] = []
    for line in text.splitlines():
        cols = line.split()
        if len(cols) >= 2 and cols[1] == "device" and not line.startswith(("*", "List of")):
            serials.append(cols[0])
    return serials
