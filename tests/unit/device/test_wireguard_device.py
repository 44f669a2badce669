"""harness.device.wireguard: the command lines, the parsers on recorded outputs
(tests/data/android/wireguard_*), the DataStore edit and the client-config check."""

from __future__ import annotations

import base64
import shlex
from pathlib import Path

import pytest

from harness.device import wireguard as wg

KEY_A = base64.b64encode(bytes(range(32))).decode()
KEY_B = base64.b64encode(bytes(range(100, 132))).decode()
# mitmproxy's WireGuardServerInstance.client_conf() text (mitmproxy 11), keys replaced
MITMPROXY_CONF = f"""[Interface]
PrivateKey = {KEY_A}
Address = 10.0.0.1/32
DNS = 10.0.0.53

[Peer]
PublicKey = {KEY_B}
AllowedIPs = 0.0.0.0/0
Endpoint = 10.0.2.2:51820"""


def _data(android_data: Path, name: str) -> str:
    return (android_data / name).read_text()


# --- commands ----------------------------------------------------------------------------------

def test_broadcast_is_explicit_reaches_a_stopped_app_and_names_the_tunnel() -> None:
    argv = shlex.split(wg.broadcast(wg.ACTION_UP))
    assert argv[:2] == ["am", "broadcast"]
    assert "--include-stopped-packages" in argv and "--receiver-foreground" in argv
    assert argv[argv.index("-a") + 1] == "com.wireguard.android.action.SET_TUNNEL_UP"
    # the `$` of the nested class must reach am unexpanded
    assert argv[argv.index("-n") + 1] == (
        "com.wireguard.android/.model.TunnelManager$IntentReceiver")
    assert argv[argv.index("-e") + 1:argv.index("-e") + 3] == ["tunnel", "consentry"]
    assert shlex.split(wg.broadcast(wg.ACTION_DOWN))[5] == (
        "com.wireguard.android.action.SET_TUNNEL_DOWN")


def test_tunnel_names_follow_the_app_rule() -> None:
    assert wg.config_path() == "/data/data/com.wireguard.android/files/consentry.conf"
    assert wg.config_path("a.b-c_d=e+f").endswith("/a.b-c_d=e+f.conf")
    for bad in ("", "x" * 16, "has space", "semi;colon", "../up"):
        with pytest.raises(ValueError, match="tunnel name"):
            wg.config_path(bad)
        with pytest.raises(ValueError):
            wg.broadcast(wg.ACTION_UP, bad)


def test_paths_follow_the_app_source() -> None:
    assert wg.datastore_path() == (
        "/data/data/com.wireguard.android/files/datastore/settings.preferences_pb")
    assert wg.staging_path("x.conf") == "/data/local/tmp/consentry-wireguard/x.conf"


def test_file_commands_set_owner_mode_and_label() -> None:
    ctx = "u:object_r:app_data_file:s0:c149,c256,c512,c768"
    line = wg.copy_in("/data/local/tmp/consentry-wireguard/consentry.conf",
                      wg.config_path(), "10149:10149", ctx)
    steps = [shlex.split(step) for step in line.split(" && ")]
    assert steps == [
        ["cp", "/data/local/tmp/consentry-wireguard/consentry.conf", wg.config_path()],
        ["chown", "10149:10149", wg.config_path()],
        ["chmod", "600", wg.config_path()],
        ["chcon", ctx, wg.config_path()],
    ]
    dirs = wg.make_private_dirs([wg.files_dir(), wg.datastore_dir()], "10149:10149", ctx)
    assert [shlex.split(s)[0] for s in dirs.split(" && ")] == ["mkdir", "chown", "chcon"] * 2
    assert shlex.split(wg.copy_out(wg.datastore_path(), "/data/local/tmp/x")) == [
        "cp", wg.datastore_path(), "/data/local/tmp/x", "&&", "chmod", "644", "/data/local/tmp/x"]
    assert wg.remove("/a b", "/c") == "rm -f '/a b' /c"


def test_consent_and_allowlist_commands() -> None:
    assert wg.appops_get() == "appops get com.wireguard.android ACTIVATE_VPN"
    assert wg.appops_set("allow") == "appops set com.wireguard.android ACTIVATE_VPN allow"
    assert wg.temp_allowlist(millis=5000) == (
        "cmd deviceidle tempwhitelist -d 5000 com.wireguard.android")


# --- parsers on recorded outputs ---------------------------------------------------------------

def test_tunnel_up_on_android_14(android_data: Path) -> None:
    text = _data(android_data, "wireguard_dumpsys_connectivity_api34.txt")
    networks = wg.parse_vpn_networks(text)
    assert networks == [wg.VpnNetwork(package="com.wireguard.android", interface="tun0",
                                      connected=True, session="consentry")]
    assert wg.tunnel_up(text) == networks[0]


def test_tunnel_up_on_android_10(android_data: Path) -> None:
    text = _data(android_data, "wireguard_dumpsys_connectivity_api29.txt")
    up = wg.tunnel_up(text)
    assert up is not None and up.interface == "tun0" and up.session is None


def test_connecting_tunnel_and_other_vpns_do_not_count(android_data: Path) -> None:
    text = _data(android_data, "wireguard_dumpsys_connectivity_connecting.txt")
    networks = {n.package: n for n in wg.parse_vpn_networks(text)}
    assert networks["com.wireguard.android"].connected is False
    assert networks["com.example.othervpn"].connected is True
    assert wg.tunnel_up(text) is None
    assert wg.tunnel_up(text, "com.example.othervpn") is not None
    assert wg.tunnel_up("Current Networks:\n") is None


def test_appops_modes(android_data: Path) -> None:
    assert wg.parse_appops_mode(_data(android_data, "wireguard_appops_allow.txt")) == "allow"
    assert wg.parse_appops_mode(_data(android_data, "wireguard_appops_unset.txt")) is None
    assert wg.parse_appops_mode("Uid mode: ACTIVATE_VPN: ignore\nACTIVATE_VPN: deny\n") == "deny"


def test_owner_context_broadcast_and_log(android_data: Path) -> None:
    assert wg.parse_owner("10149:10149\n") == "10149:10149"
    assert wg.parse_owner("stat: '/data/data/x': No such file or directory") is None
    assert wg.parse_context(_data(android_data, "wireguard_ls_dZ.txt")) == (
        "u:object_r:app_data_file:s0:c149,c256,c512,c768")
    assert wg.parse_context("ls: /data/data/x: No such file or directory") is None
    assert wg.broadcast_delivered(_data(android_data, "wireguard_am_broadcast.txt"))
    assert not wg.broadcast_delivered("Error: Bad component name")
    log = wg.wireguard_log(_data(android_data, "wireguard_logcat.txt"))
    assert len(log) == 3 and "Bringing tunnel consentry UP" in log[0]
    assert all("WireGuard/" in line for line in log)


# --- DataStore preferences ---------------------------------------------------------------------

def _entry(key: bytes, value: bytes) -> bytes:
    inner = b"\x0a" + bytes([len(key)]) + key + b"\x12" + bytes([len(value)]) + value
    return b"\x0a" + bytes([len(inner)]) + inner


# PreferenceMap {dark_theme: true, enabled_configs: {"home"}} as DataStore writes it:
# map entries are field 1; Value.boolean = field 1 (varint), Value.string_set = field 6
# holding StringSet{strings = field 1}.
EXISTING = (_entry(b"dark_theme", b"\x08\x01")
            + _entry(b"enabled_configs", b"\x32\x06\x0a\x04home"))


def test_remote_control_is_added_and_the_rest_kept_byte_for_byte() -> None:
    out = wg.set_boolean_preference(EXISTING, wg.REMOTE_CONTROL_KEY, True)
    assert out.startswith(EXISTING)
    keys = wg.preference_keys(out)
    assert list(keys) == ["dark_theme", "enabled_configs", "allow_remote_control_intents"]
    assert wg.boolean_value(keys["allow_remote_control_intents"]) is True
    assert wg.boolean_value(keys["dark_theme"]) is True
    assert wg.boolean_value(keys["enabled_configs"]) is None
    # the exact encoding of the new entry: 0a 22 (0a 1c key) (12 02 08 01)
    key = b"allow_remote_control_intents"
    assert out[len(EXISTING):] == b"\x0a\x22\x0a\x1c" + key + b"\x12\x02\x08\x01"


def test_an_existing_value_is_replaced_not_duplicated() -> None:
    off = EXISTING + _entry(wg.REMOTE_CONTROL_KEY.encode(), b"\x08\x00")
    out = wg.set_boolean_preference(off, wg.REMOTE_CONTROL_KEY, True)
    assert out.count(wg.REMOTE_CONTROL_KEY.encode()) == 1
    assert wg.boolean_value(wg.preference_keys(out)[wg.REMOTE_CONTROL_KEY]) is True
    assert wg.set_boolean_preference(b"", "k", False) == b"\x0a\x07\x0a\x01k\x12\x02\x08\x00"


def test_a_damaged_preferences_file_is_refused() -> None:
    with pytest.raises(ValueError):
        wg.set_boolean_preference(EXISTING[:-3], wg.REMOTE_CONTROL_KEY, True)
    with pytest.raises(ValueError, match="wire type"):
        wg.set_boolean_preference(b"\x0b", wg.REMOTE_CONTROL_KEY, True)


# --- the client configuration ------------------------------------------------------------------

def test_client_config_is_parsed_and_its_keys_checked() -> None:
    config = wg.parse_client_config(MITMPROXY_CONF)
    assert config.endpoint_host == "10.0.2.2" and config.endpoint_port == 51820
    assert config.allowed_ips == "0.0.0.0/0" and config.dns == "10.0.0.53"
    assert wg.decode_key(config.private_key) == bytes(range(32))
    ipv6 = wg.parse_client_config(MITMPROXY_CONF.replace("10.0.2.2:51820", "[fd00::1]:4000"))
    assert ipv6.endpoint_host == "fd00::1" and ipv6.endpoint_port == 4000


@pytest.mark.parametrize("broken, why", [
    (MITMPROXY_CONF.replace(KEY_A, KEY_A[:-4] + "===="), "base64|32 bytes"),
    (MITMPROXY_CONF.replace(KEY_B, base64.b64encode(b"x" * 31).decode()), "32 bytes"),
    (MITMPROXY_CONF.replace("Endpoint = 10.0.2.2:51820", ""), r"\[Peer\] endpoint"),
    (MITMPROXY_CONF.replace("10.0.2.2:51820", "10.0.2.2"), "HOST:PORT"),
])
def test_broken_client_configs_are_refused(broken: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        wg.parse_client_config(broken)


def test_manual_steps_name_the_file_and_the_import() -> None:
    steps = wg.manual_steps("/runs/x/wireguard-client.conf")
    assert "adb push /runs/x/wireguard-client.conf /sdcard/Download/consentry.conf" in steps
    assert "Import from file or archive" in steps and "com.wireguard.android" in steps


def test_existence_check_prints_a_marker_and_a_missing_marker_is_no_answer() -> None:
    command = wg.exists("/data/data/com.wireguard.android/files/x y")
    assert command == ("if test -e '/data/data/com.wireguard.android/files/x y'; "
                       "then echo present; else echo absent; fi")
    assert wg.parse_exists("present\n") is True
    assert wg.parse_exists("absent\n") is False
    assert wg.parse_exists("") is None
    assert wg.parse_exists("su: permission denied\n") is None


def test_public_key_is_x25519_of_the_private_key() -> None:
    # RFC 7748 section 6.1, Alice's key pair
    private = base64.b64encode(bytes.fromhex(
        "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")).decode()
    public = bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    assert base64.b64decode(wg.public_key(private)) == public


def test_redacted_config_keeps_everything_but_the_private_key() -> None:
    private = base64.b64encode(bytes(range(32))).decode()
    peer = base64.b64encode(bytes(range(32, 64))).decode()
    text = (f"[Interface]\nPrivateKey = {private}\nAddress = 10.0.0.1/32\n\n"
            f"[Peer]\nPublicKey = {peer}\nAllowedIPs = 0.0.0.0/0\nEndpoint = 10.0.2.2:51820\n")
    redacted = wg.redact_client_config(text)
    assert private not in redacted
    assert redacted.splitlines() == [
        "[Interface]", f"PrivateKey = {wg.REDACTED}",
        f"# PublicKey of this client = {wg.public_key(private)}", "Address = 10.0.0.1/32", "",
        "[Peer]", f"PublicKey = {peer}", "AllowedIPs = 0.0.0.0/0", "Endpoint = 10.0.2.2:51820"]
    with pytest.raises(ValueError, match="lacks"):
        wg.redact_client_config("[Interface]\nAddress = 10.0.0.1/32\n")
