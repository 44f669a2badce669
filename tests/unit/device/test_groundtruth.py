from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from fakeshell import FakeShell

from harness.device import groundtruth
from harness.errors import DeviceLost


def full_device(data: Path) -> FakeShell:
    def text(name: str) -> str:
        return (data / name).read_text()

    fake = FakeShell()
    fake.on(r"iphonesubinfo 1 ", text("iphonesubinfo_imei_api28.txt"))
    fake.on(r"iphonesubinfo 7 ", text("iphonesubinfo_imsi_api28.txt"))
    fake.on(r"iphonesubinfo 11 ", text("iphonesubinfo_iccid_api28.txt"))
    fake.on(r"iphonesubinfo 13 ", text("iphonesubinfo_null.txt"))
    fake.on(r"^settings get secure android_id$", "9774d56d682e549c\n")
    fake.on(r"wlan0/address", "02:15:b2:00:00:00\n")
    fake.on(r"^dumpsys wifi$", text("dumpsys_wifi_api33.txt"))
    fake.on(r"adid_settings.xml", text("adid_settings.xml"))
    fake.on(r"^dumpsys location$", text("dumpsys_location_api33.txt"))
    return fake


def test_collects_every_type_from_a_rooted_api28_device(android_data: Path) -> None:
    fake = full_device(android_data)
    truth = groundtruth.collect(fake, sdk=28, root="adbd")
    assert truth == {
        "imei": ["358240051111110"],
        "imsi": ["310260000000000"],
        "iccid": ["89014103211118510720"],
        "android_id": ["9774d56d682e549c"],
        "mac": ["02:15:b2:00:00:00"],  # same MAC from sysfs and dumpsys: listed once
        "ssid": ["AndroidWifi"],
        "bssid": ["00:13:10:85:fe:01"],
        "advertising_id": ["60e5d787-7b10-4341-8289-a784280e7f1f"],
        "location": ["37.421998,-122.084000", "37.420107,-122.081542"],
    }
    assert fake.unscripted == []


def test_missing_values_are_absent_not_errors(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeShell()
    fake.on("iphonesubinfo", "Result: Parcel(\n  0x00000000: ffffffff 00000000 "
                             "'........')\n")
    fake.on("^settings get secure android_id$", "null\n")
    fake.on("wlan0", "cat: /sys/class/net/wlan0/address: No such file or directory", 1)
    fake.on("^dumpsys ", "")
    with caplog.at_level(logging.DEBUG, logger="harness.device.groundtruth"):
        truth = groundtruth.collect(fake, sdk=34, root=None)
    assert truth == {}
    assert "no advertising_id (reading Play services' file needs root)" in caplog.text
    assert "no imei" in caplog.text
    # no root: nothing is wrapped in su, and the AAID file is not read
    assert not any(c.startswith("su ") or "adid" in c for c in fake.log)


def test_codes_by_sdk_level() -> None:
    assert groundtruth.iphonesubinfo_codes(23) == {"imei": 1, "imsi": 7, "iccid": 11,
                                                   "phone": 13}
    assert groundtruth.iphonesubinfo_codes(34) == {"imei": 1, "imsi": 8}
    assert groundtruth.iphonesubinfo_codes(19) == {}


def test_su_root_wraps_privileged_reads(android_data: Path) -> None:
    fake = full_device(android_data)
    fake.on("^su 0 sh -c 'service call iphonesubinfo 1 ",
            (android_data / "iphonesubinfo_imei_api28.txt").read_text())
    truth = groundtruth.collect(fake, sdk=34, root="su")
    assert truth["imei"] == ["358240051111110"]
    assert "su 0 sh -c 'service call iphonesubinfo 8 s16 com.android.shell'" in fake.log


def test_a_broken_link_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    from harness.errors import DeviceError

    class Gone(FakeShell):
        def shell(self, command: str, *, timeout: float = 60.0) -> Any:
            raise DeviceError("device 'emulator-5554' not found")

    with caplog.at_level(logging.WARNING):
        assert groundtruth.collect(Gone(), sdk=28, root=None) == {}
    assert "could not run" in caplog.text


def test_a_lost_device_is_raised_not_logged_as_a_missing_value() -> None:
    shell = FakeShell()
    shell.unplug()
    with pytest.raises(DeviceLost):
        groundtruth.collect(shell, sdk=34, root=None)
