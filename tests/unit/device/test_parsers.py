from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.device import parsers


def read(data: Path, name: str) -> str:
    return (data / name).read_text(encoding="utf-8")


@pytest.mark.shared_data
def test_getprop_real_emulator_output(shared_data: Path) -> None:
    path = shared_data / "android-device-outputs" / "getprop_emulator_api23_x86_64.txt"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    props = parsers.parse_getprop(path.read_text(encoding="utf-8"))
    assert len(props) == 155
    assert "ro.serialno" in props and props["ro.serialno"] == ""
    assert props["ro.build.version.sdk"] == "23"
    assert props["ro.product.cpu.abi"] == "x86_64"
    assert props["ro.kernel.qemu"] == "1"
    assert props["ro.hardware"] == "ranchu"
    assert props["ro.product.model"] == "Android SDK built for x86_64"
    assert props["gsm.sim.state"] == "NOT_READY"
    # a value that itself contains "=" and brackets-free text survives intact
    assert props["dalvik.vm.isa.x86.variant"] == "dalvik.vm.isa.x86.features=default"


def test_getprop_multiline_value_and_crlf(android_data: Path) -> None:
    text = read(android_data, "getprop_multiline.txt")
    for variant in (text, text.replace("\n", "\r\n")):
        props = parsers.parse_getprop(variant)
        assert len(props) == 11
        assert props["persist.sys.boot.reason.history"] == (
            "reboot,factory_reset,1700000000\nreboot,1699990000")
        assert props["ro.build.version.sdk"] == "34"


@pytest.mark.parametrize(("name", "expected"), [
    ("iphonesubinfo_imei_api28.txt", "358240051111110"),
    ("iphonesubinfo_imsi_api28.txt", "310260000000000"),
    ("iphonesubinfo_iccid_api28.txt", "89014103211118510720"),
    ("iphonesubinfo_denied_api30.txt", None),
    ("iphonesubinfo_null.txt", None),
])
def test_parcel_string(android_data: Path, name: str, expected: str | None) -> None:
    assert parsers.parse_parcel_string(read(android_data, name)) == expected


def test_parcel_string_from_brief_layout() -> None:
    dump = ("Result: Parcel(\n"
            "  0x00000000: 00000000 00000004 00360038 00350033 '........8.6.3.5.'\n"
            "  0x00000010: 00000000                            '....            ')\n")
    assert parsers.parse_parcel_string(dump) == "8635"


def test_parcel_string_rejects_non_parcel_output() -> None:
    assert parsers.parse_parcel_string("service: Service iphonesubinfo does not exist\n") is None
    assert parsers.parse_parcel_string("") is None
    # a length that runs past the data is not trusted
    assert parsers.parse_parcel_string("Result: Parcel(00000000 00000010   '........')") is None


def test_pm_path_split_apks(android_data: Path) -> None:
    paths = parsers.parse_pm_path(read(android_data, "pm_path_split.txt"))
    assert len(paths) == 3
    assert paths[0].endswith("/com.example.shop-J1k2L3m4N5o6P7q8R9s0Tg==/base.apk")
    assert parsers.parse_pm_path("") == []


def test_package_version(android_data: Path) -> None:
    v = parsers.parse_package_version(read(android_data, "dumpsys_package_example.txt"))
    assert (v.version_name, v.version_code) == ("4.2.17-release", 40217)


def test_package_version_updated_system_app_takes_installed(android_data: Path) -> None:
    v = parsers.parse_package_version(read(android_data, "dumpsys_package_updated_system.txt"))
    assert (v.version_name, v.version_code) == ("119.0.6045.163", 609914433)
    missing = parsers.parse_package_version("Unable to find package: com.nope\n")
    assert (missing.version_name, missing.version_code) == (None, None)


def test_pidof_and_ps(android_data: Path) -> None:
    assert parsers.parse_pidof("5120 5188\n") == [5120, 5188]
    assert parsers.parse_pidof("") == []
    ps = read(android_data, "ps_A.txt")
    assert parsers.parse_ps_pids(ps, "frida-server") == [4821]
    assert parsers.parse_ps_pids(ps, "com.example.shop") == [5120]
    assert parsers.parse_ps_pids(ps, "absent") == []


def test_wifi_info_modern(android_data: Path) -> None:
    info = parsers.parse_wifi_info(read(android_data, "dumpsys_wifi_api33.txt"))
    assert info == parsers.WifiInfo(ssid="AndroidWifi", bssid="00:13:10:85:fe:01",
                                    mac="02:15:b2:00:00:00")


def test_wifi_info_ssid_with_comma_and_redacted_mac(android_data: Path) -> None:
    info = parsers.parse_wifi_info(read(android_data, "dumpsys_wifi_api28.txt"))
    assert info == parsers.WifiInfo(ssid="Office 5G, 2nd floor", bssid="a4:2b:b0:c1:d2:e3",
                                    mac=None)


def test_wifi_info_disconnected(android_data: Path) -> None:
    info = parsers.parse_wifi_info(read(android_data, "dumpsys_wifi_disconnected.txt"))
    assert info == parsers.WifiInfo(ssid=None, bssid=None, mac=None)
    assert parsers.parse_wifi_info("Wi-Fi is disabled\n") is None


def test_settings_mac_adid() -> None:
    assert parsers.parse_settings_value("null\n") is None
    assert parsers.parse_settings_value("9774d56d682e549c\n") == "9774d56d682e549c"
    assert parsers.parse_mac("02:15:B2:00:00:00\n") == "02:15:b2:00:00:00"
    assert parsers.parse_mac("cat: /sys/class/net/wlan0/address: No such file") is None
    assert parsers.parse_adid("<map><broken") is None


def test_adid_xml(android_data: Path) -> None:
    assert (parsers.parse_adid(read(android_data, "adid_settings.xml"))
            == "60e5d787-7b10-4341-8289-a784280e7f1f")


def test_last_known_locations_api33(android_data: Path) -> None:
    found = parsers.parse_last_known_locations(read(android_data, "dumpsys_location_api33.txt"))
    assert found == [("fused", 37.421998, -122.084), ("gps", 37.421998, -122.084),
                     ("network", 37.420107, -122.081542)]


def test_last_known_locations_api28(android_data: Path) -> None:
    found = parsers.parse_last_known_locations(read(android_data, "dumpsys_location_api28.txt"))
    assert found == [("gps", 31.230416, 121.473701), ("gps", 31.230416, 121.473701)]
    assert parsers.parse_last_known_locations("Location Manager State:\n") == []


def test_frida_version_and_sha256() -> None:
    assert parsers.parse_frida_version("17.2.6\n") == "17.2.6"
    assert parsers.parse_frida_version("/system/bin/sh: frida-server: not found") is None
    digest = "a" * 64
    assert parsers.parse_sha256sum(f"{digest}  /data/app/x/base.apk\n") == digest
    assert parsers.parse_sha256sum("sha256sum: not found") is None


def test_adb_devices_only_ready_ones(android_data: Path) -> None:
    text = read(android_data, "adb_devices.txt")
    assert parsers.parse_adb_devices(text) == ["emulator-5554", "192.168.1.20:5555"]
    assert parsers.parse_adb_devices("List of devices attached\n\n") == []


def parcel_dump(data: bytes) -> str:
    """Lay out ``data`` the way Parcel::print does for ``service call`` (4 words a line)."""
    data += b"\0" * (-len(data) % 4)
    lines = ["Result: Parcel("]
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        words = " ".join(f"{int.from_bytes(chunk[i:i + 4], 'little'):08x}"
                         for i in range(0, len(chunk), 4))
        chars = "".join(chr(b) if 32 <= b < 127 and b != 39 else "." for b in chunk)
        end = "')" if off + 16 >= len(data) else "'"
        lines.append(f"  0x{off:08x}: {words.ljust(35)} '{chars.ljust(16)}{end}")
    return "\n".join(lines) + "\n"


@given(st.text(min_size=1, max_size=80))
def test_parcel_string_round_trip(value: str) -> None:
    encoded = value.encode("utf-16-le")  # non-BMP characters take two units, as in Java
    units = len(encoded) // 2
    reply = (0).to_bytes(4, "little") + units.to_bytes(4, "little") + encoded + b"\0\0"
    assert parsers.parse_parcel_string(parcel_dump(reply)) == value


def test_parcel_dump_helper_matches_recorded_file(android_data: Path) -> None:
    reply = (0).to_bytes(4, "little") + (15).to_bytes(4, "little") \
        + "358240051111110".encode("utf-16-le") + b"\0\0"
    assert parcel_dump(reply) == read(android_data, "iphonesubinfo_imei_api28.txt")
