"""The official WireGuard app (``com.wireguard.android``) as the device side of WireGuard capture.

Pure command builders and parsers, like ``commands.py`` and ``parsers.py``; no I/O here. What the
app does, from its source (github.com/WireGuard/wireguard-android, version 1.0.20260315):

* ``FileConfigStore`` keeps each tunnel as ``<name>.conf`` (``wg-quick`` syntax) in the app's
  files dir, and ``TunnelManager`` lists them once, when the app process starts: a config written
  while the app runs is not seen until it is restarted (so force-stop it first).
* ``TunnelManager.IntentReceiver`` (exported, guarded by the ``dangerous`` permission
  ``com.wireguard.android.permission.CONTROL_TUNNELS``, which root is exempt from) takes
  ``com.wireguard.android.action.SET_TUNNEL_UP`` / ``SET_TUNNEL_DOWN`` with a string extra
  ``tunnel``, and ignores them unless the preference ``allow_remote_control_intents`` is true.
* Preferences are a Jetpack DataStore, ``files/datastore/settings.preferences_pb``: one protobuf
  ``PreferenceMap { map<string, Value> preferences = 1; }`` with
  ``Value { oneof { bool boolean = 1; ... } }`` (androidx ``PreferencesProto``), read once per
  process, so it too is edited while the app is stopped.
* ``GoBackend`` refuses to start when ``VpnService.prepare`` wants the user's consent; the
  ``ACTIVATE_VPN`` app-op set to ``allow`` is the platform's "already consented" record
  (``Vpn.isVpnServicePreConsented``).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from harness.device.commands import q

PACKAGE = "com.wireguard.android"
RECEIVER = f"{PACKAGE}/.model.TunnelManager$IntentReceiver"
ACTION_UP = "com.wireguard.android.action.SET_TUNNEL_UP"
ACTION_DOWN = "com.wireguard.android.action.SET_TUNNEL_DOWN"
REMOTE_CONTROL_KEY = "allow_remote_control_intents"
TUNNEL = "consentry"
"""Tunnel (and file) name; the app accepts ``[a-zA-Z0-9_=+.-]{1,15}`` (``Tunnel.NAME_PATTERN``)."""
STAGING = "/data/local/tmp/consentry-wireguard"
"""Where adb push/pull meet the root shell: the app's own dir is not readable by adb."""
VPN_OP = "ACTIVATE_VPN"
EMULATOR_HOST = "10.0.2.2"
"""The emulator's alias for the host's loopback (Android emulator networking)."""
INSTALL_HINT = ("install the official WireGuard app (com.wireguard.android) from Google Play, "
                "F-Droid or https://download.wireguard.com/android-client/")

_NAME = re.compile(r"[a-zA-Z0-9_=+.-]{1,15}")


def check_tunnel_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"WireGuard tunnel name {name!r} is not [a-zA-Z0-9_=+.-]{{1,15}}")
    return name


# --- paths -------------------------------------------------------------------------------------

def data_dir(package: str = PACKAGE) -> str:
    return f"/data/data/{package}"


def files_dir(package: str = PACKAGE) -> str:
    return f"{data_dir(package)}/files"


def config_path(tunnel: str = TUNNEL, package: str = PACKAGE) -> str:
    return f"{files_dir(package)}/{check_tunnel_name(tunnel)}.conf"


def datastore_dir(package: str = PACKAGE) -> str:
    return f"{files_dir(package)}/datastore"


def datastore_path(package: str = PACKAGE) -> str:
    # androidx preferencesDataStoreFile("settings") = filesDir/datastore/settings.preferences_pb
    return f"{datastore_dir(package)}/settings.preferences_pb"


def staging_path(name: str) -> str:
    return f"{STAGING}/{name}"


# --- commands (run as root where the app's private dir is involved) --------------------------

def owner_of(path: str) -> str:
    return f"stat -c %u:%g {q(path)}"


def context_of(path: str) -> str:
    return f"ls -dZ {q(path)}"


def make_private_dirs(dirs: list[str], owner: str, context: str) -> str:
    """Create the app's dirs (if missing) owned by the app, with its SELinux label."""
    steps = [f"mkdir -p {q(d)} && chown {q(owner)} {q(d)} && chcon {q(context)} {q(d)}"
             for d in dirs]
    return " && ".join(steps)


def copy_in(source: str, dest: str, owner: str, context: str, mode: str = "600") -> str:
    """Copy a staged file into the app's dir as a file the app itself could have written."""
    return (f"cp {q(source)} {q(dest)} && chown {q(owner)} {q(dest)} && chmod {mode} {q(dest)}"
            f" && chcon {q(context)} {q(dest)}")


def copy_out(source: str, dest: str) -> str:
    """Copy an app file to the staging dir where ``adb pull`` can read it."""
    return f"cp {q(source)} {q(dest)} && chmod 644 {q(dest)}"


def make_staging() -> str:
    return f"mkdir -p {q(STAGING)} && chmod 777 {q(STAGING)}"


def remove(*paths: str) -> str:
    return "rm -f " + " ".join(q(p) for p in paths)


def remove_staging() -> str:
    return f"rm -rf {q(STAGING)}"


PRESENT, ABSENT = "present", "absent"


def exists(path: str) -> str:
    """Prints ``present`` or ``absent``: an exit code alone cannot tell "no such file" from a
    shell that failed (``su`` refused, SELinux, adb hiccup), and reading a failure as
    "absent" would make the restore at close delete the user's file."""
    return f"if test -e {q(path)}; then echo {PRESENT}; else echo {ABSENT}; fi"


def parse_exists(output: str) -> bool | None:
    """True/False from :func:`exists` output; None when the marker is missing (the shell
    failed before ``test`` ran)."""
    words = output.split()
    last = words[-1] if words else ""
    return {PRESENT: True, ABSENT: False}.get(last)


def broadcast(action: str, tunnel: str = TUNNEL) -> str:
    """The remote-control intent, explicit (manifest receivers get no implicit broadcasts on
    Android 8+), delivered to a force-stopped app and at foreground priority."""
    return (f"am broadcast --include-stopped-packages --receiver-foreground -a {q(action)} "
            f"-n {q(RECEIVER)} -e tunnel {q(check_tunnel_name(tunnel))}")


def temp_allowlist(package: str = PACKAGE, millis: int = 60_000) -> str:
    """Let the app start its VpnService from the background for a while (it expires itself)."""
    return f"cmd deviceidle tempwhitelist -d {int(millis)} {q(package)}"


def appops_get(package: str = PACKAGE, op: str = VPN_OP) -> str:
    return f"appops get {q(package)} {q(op)}"


def appops_set(mode: str, package: str = PACKAGE, op: str = VPN_OP) -> str:
    return f"appops set {q(package)} {q(op)} {q(mode)}"


def dumpsys_connectivity() -> str:
    return "dumpsys connectivity"


def logcat_recent(lines: int = 400) -> str:
    return f"logcat -d -t {int(lines)}"


# --- parsers -----------------------------------------------------------------------------------

_OWNER = re.compile(r"^(\d+):(\d+)$", re.MULTILINE)
_CONTEXT = re.compile(r"^(u:object_r:[A-Za-z0-9_]+:s0(?::[c0-9,]+)?)\s", re.MULTILINE)


def parse_owner(text: str) -> str | None:
    """``uid:gid`` from ``stat -c %u:%g``."""
    match = _OWNER.search(text.strip())
    return f"{match.group(1)}:{match.group(2)}" if match else None


def parse_context(text: str) -> str | None:
    """The SELinux label from toybox ``ls -dZ PATH`` (``u:object_r:TYPE:s0:cN,... PATH``)."""
    match = _CONTEXT.search(text.strip() + "\n")
    return match.group(1) if match else None


def parse_appops_mode(text: str, op: str = VPN_OP) -> str | None:
    """The package's mode for ``op`` from ``appops get PKG OP``; None when it was never set
    (AppOpsService prints ``No operations.``, then the default mode)."""
    match = re.search(rf"^{re.escape(op)}: ([a-z]+)", text, re.MULTILINE)
    return match.group(1) if match else None


def broadcast_delivered(text: str) -> bool:
    """``am broadcast`` prints ``Broadcast completed: result=0`` once receivers ran."""
    return "Broadcast completed" in text


@dataclass(frozen=True, slots=True)
class VpnNetwork:
    package: str
    interface: str | None
    connected: bool
    session: str | None
    """The tunnel name (``VpnService.Builder.setSession``); only Android 12+ prints it."""


_AGENT_EXTRA = re.compile(r"extra: VPN:([A-Za-z0-9_.]+)")
_INTERFACE = re.compile(r"InterfaceName: (\S+)")
_SESSION = re.compile(r"sessionId=([^,}\s]+)")
_CONNECTED = re.compile(r"\bCONNECTED\b")


def parse_vpn_networks(text: str) -> list[VpnNetwork]:
    """VPN networks in ``dumpsys connectivity``: one ``NetworkAgentInfo{...}`` line each.

    The platform ``Vpn`` tags its network agent with the legacy extra ``VPN:<package>``, shown
    in ``ni{VPN CONNECTED extra: VPN:<package>}`` (Android 12+) or ``ni{[type: VPN[], state:
    CONNECTED/CONNECTED, ... extra: VPN:<package>, ...]}`` (older), and the link properties
    name the tun interface.
    """
    found: list[VpnNetwork] = []
    for line in text.splitlines():
        if "NetworkAgentInfo" not in line:
            continue
        extra = _AGENT_EXTRA.search(line)
        if extra is None:
            continue
        ni = line[line.find("ni{"):] if "ni{" in line else line
        ni = ni[:ni.find("}")] if "}" in ni else ni
        interface = _INTERFACE.search(line)
        session = _SESSION.search(line)
        found.append(VpnNetwork(package=extra.group(1),
                                interface=interface.group(1) if interface else None,
                                connected=bool(_CONNECTED.search(ni)),
                                session=session.group(1) if session else None))
    return found


def tunnel_up(text: str, package: str = PACKAGE) -> VpnNetwork | None:
    """The connected VPN of ``package`` with a tun interface, if ``dumpsys connectivity``
    shows one."""
    for network in parse_vpn_networks(text):
        if network.package == package and network.connected and network.interface:
            return network
    return None


def wireguard_log(text: str, limit: int = 15) -> list[str]:
    """The app's own log lines (tags ``WireGuard/...``) from ``logcat -d``, newest last."""
    return [line for line in text.splitlines() if "WireGuard/" in line][-limit:]


# --- the app's DataStore preferences -----------------------------------------------------------

def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated or overlong varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _fields(data: bytes) -> list[tuple[int, int, bytes, bytes]]:
    """Top-level protobuf fields: (number, wire type, payload, the field's raw bytes)."""
    fields = []
    pos = 0
    while pos < len(data):
        start = pos
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = _read_varint(data, pos)
            payload = b""
        elif wire == 1:
            pos += 8
            payload = b""
        elif wire == 5:
            pos += 4
            payload = b""
        elif wire == 2:
            length, pos = _read_varint(data, pos)
            payload = data[pos:pos + length]
            pos += length
        else:
            raise ValueError(f"unsupported protobuf wire type {wire} at byte {start}")
        if pos > len(data):
            raise ValueError(f"field {number} runs past the end ({pos} > {len(data)} bytes)")
        fields.append((number, wire, payload, data[start:pos]))
    return fields


def _length_delimited(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _entry(payload: bytes) -> tuple[str | None, bytes]:
    """Key and encoded ``Value`` of one map entry (key = field 1, value = field 2)."""
    key: str | None = None
    value = b""
    for number, wire, inner, _raw in _fields(payload):
        if number == 1 and wire == 2:
            key = inner.decode("utf-8")
        elif number == 2 and wire == 2:
            value = inner
    return key, value


def preference_keys(data: bytes) -> dict[str, bytes]:
    """Key -> encoded ``Value`` of every entry in a ``PreferenceMap``."""
    entries: dict[str, bytes] = {}
    for number, wire, payload, _ in _fields(data):
        if number == 1 and wire == 2:
            key, value = _entry(payload)
            if key is not None:
                entries[key] = value
    return entries


def boolean_value(value: bytes) -> bool | None:
    """The bool of an encoded ``Value`` (field 1, varint), or None for other types."""
    for number, wire, _payload, raw in _fields(value):
        if number == 1 and wire == 0:
            flag, _ = _read_varint(raw, 1)
            return bool(flag)
    return None


def set_boolean_preference(data: bytes, key: str, value: bool) -> bytes:
    """``data`` (a serialized ``PreferenceMap``, possibly empty) with ``key`` set to ``value``.

    Every other entry (and anything not understood) is kept byte for byte.
    """
    kept = b""
    for number, wire, payload, raw in _fields(data):
        if number == 1 and wire == 2 and _entry(payload)[0] == key:
            continue  # replaced below
        kept += raw
    encoded_value = bytes([0x08, 1 if value else 0])  # Value.boolean = field 1, varint
    entry = _length_delimited(1, key.encode("utf-8")) + _length_delimited(2, encoded_value)
    return kept + _length_delimited(1, entry)


# --- the client configuration mitmproxy hands out ----------------------------------------------

@dataclass(frozen=True, slots=True)
class ClientConfig:
    private_key: str
    address: str
    dns: str | None
    peer_public_key: str
    endpoint: str
    allowed_ips: str

    @property
    def endpoint_host(self) -> str:
        return self.endpoint.rsplit(":", 1)[0].strip("[]")

    @property
    def endpoint_port(self) -> int:
        return int(self.endpoint.rsplit(":", 1)[1])


def decode_key(text: str) -> bytes:
    """A WireGuard key: 32 bytes (Curve25519), base64 (44 characters with padding)."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not a base64 WireGuard key: {text!r}") from exc
    if len(raw) != 32:
        raise ValueError(f"a WireGuard key has 32 bytes, this one {len(raw)}: {text!r}")
    return raw


def parse_client_config(text: str) -> ClientConfig:
    """The ``[Interface]``/``[Peer]`` config (``wg-quick`` syntax) mitmproxy generates; its keys
    are checked to be real WireGuard keys."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1].strip().lower(), {})
        elif "=" in line and current is not None:
            name, _, value = line.partition("=")
            current[name.strip().lower()] = value.strip()
    iface, peer = sections.get("interface", {}), sections.get("peer", {})
    missing = [f"[Interface] {k}" for k in ("privatekey", "address") if k not in iface]
    missing += [f"[Peer] {k}" for k in ("publickey", "endpoint", "allowedips") if k not in peer]
    if missing:
        raise ValueError(f"WireGuard client config lacks {', '.join(missing)}")
    decode_key(iface["privatekey"])
    decode_key(peer["publickey"])
    if not re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[^:\s]+):\d{1,5}", peer["endpoint"]):
        raise ValueError(f"WireGuard Endpoint {peer['endpoint']!r} is not HOST:PORT")
    return ClientConfig(private_key=iface["privatekey"], address=iface["address"],
                        dns=iface.get("dns"), peer_public_key=peer["publickey"],
                        endpoint=peer["endpoint"], allowed_ips=peer["allowedips"])


REDACTED = "(redacted: the private key never enters the bundle)"


def public_key(private_key: str) -> str:
    """The WireGuard (X25519) public key of a base64 private key, base64 as ``wg pubkey``
    prints it: it names the client in the bundle without the secret."""
    # cryptography comes with mitmproxy (its TLS stack), so it is always installed here.
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = X25519PrivateKey.from_private_bytes(decode_key(private_key))
    return base64.b64encode(key.public_key().public_bytes(Encoding.Raw,
                                                          PublicFormat.Raw)).decode()


def redact_client_config(text: str) -> str:
    """``text`` with the ``PrivateKey`` value replaced and the matching public key noted, for
    the evidence bundle: a bundle is shared, the key would let anyone holding it talk to
    mitmproxy's WireGuard server as the device."""
    private = parse_client_config(text).private_key
    lines = []
    for line in text.splitlines():
        name, sep, _ = line.partition("=")
        if sep and name.strip().lower() == "privatekey":
            lines.append(f"{name.rstrip()} = {REDACTED}")
            lines.append(f"# PublicKey of this client = {public_key(private)}")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def manual_steps(config_file: str, tunnel: str = TUNNEL) -> str:
    """What to do by hand when consentry cannot set the tunnel up itself."""
    return (f"set the tunnel up by hand: {INSTALL_HINT}; "
            f"`adb push {config_file} /sdcard/Download/{tunnel}.conf`; in WireGuard tap + → "
            f"\"Import from file or archive\", pick {tunnel}.conf, switch the tunnel on and accept "
            "the VPN request; then run again with the same --wireguard-port (a tunnel that is "
            "already up is used as it is). With root (`adb root` on an emulator, or `su`) "
            "consentry does all this itself")
