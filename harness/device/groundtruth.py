"""The device's own personal values, so traffic can be searched for them.

Every value is optional: a missing SIM, no Wi-Fi, no root or an unsupported release just
leaves that data type out (logged at debug level), never an error.

``service call iphonesubinfo CODE`` calls a method of ``IPhoneSubInfo`` by its binder
transaction code, which is FIRST_CALL_TRANSACTION (1) + the method's position in
``com/android/internal/telephony/IPhoneSubInfo.aidl``. The order changed between releases;
:data:`IPHONESUBINFO_CODES` is read from that file (AOSP frameworks/base):

* SDK 23-28 (getDeviceId(pkg), getNaiForSubscriber, getDeviceIdForPhone, getImeiForSubscriber,
  getDeviceSvn, getDeviceSvnUsingSubId, getSubscriberId(pkg), ...; getIccSerialNumber(pkg)
  is 11th, getLine1Number(pkg) 13th).
* SDK 30+ adds ``...WithFeature`` variants after each legacy method: getDeviceId(pkg) stays 1,
  getSubscriberId(pkg) becomes 8. Later methods moved again within 30-35, so ICCID and line-1
  number are not queried there.
Since SDK 29 these calls need READ_PRIVILEGED_PHONE_STATE, which only root has.
"""

from __future__ import annotations

import logging

from harness.device import commands, parsers
from harness.device.shell import DeviceShell, RootMode
from harness.errors import DeviceError, DeviceLost

log = logging.getLogger(__name__)

#: (lowest SDK, highest SDK) -> data type -> transaction code of the 1-String-argument method.
IPHONESUBINFO_CODES: dict[tuple[int, int], dict[str, int]] = {
    (23, 28): {"imei": 1, "imsi": 7, "iccid": 11, "phone": 13},
    (29, 29): {"imei": 1, "imsi": 7},
    (30, 99): {"imei": 1, "imsi": 8},
}


def iphonesubinfo_codes(sdk: int) -> dict[str, int]:
    for (low, high), codes in IPHONESUBINFO_CODES.items():
        if low <= sdk <= high:
            return codes
    return {}


def _run(device: DeviceShell, command: str, root: RootMode | None) -> str | None:
    """Output of ``command`` (as root when available), or None when it failed."""
    line = commands.as_root(command, root) if root else command
    try:
        result = device.shell(line, timeout=30.0)
    except DeviceLost:
        raise  # the run must stop, not carry on with a device that is gone
    except DeviceError as exc:  # the link, not the value: worth more than a debug line
        log.warning("ground truth: `%s` could not run: %s", line, exc)
        return None
    if not result.ok:
        log.debug("ground truth: `%s` failed (exit %d): %s", line, result.exit_code,
                  result.output.strip()[:200])
        return None
    return result.output


def collect(device: DeviceShell, *, sdk: int, root: RootMode | None) -> dict[str, list[str]]:
    """Data type -> values (types named as in hooks/catalogue: imei, android_id, mac, ...)."""
    found: dict[str, list[str]] = {}

    def add(data_type: str, value: str | None, why_missing: str) -> None:
        if value:
            found.setdefault(data_type, [])
            if value not in found[data_type]:
                found[data_type].append(value)
        else:
            log.debug("ground truth: no %s (%s)", data_type, why_missing)

    for data_type, code in iphonesubinfo_codes(sdk).items():
        out = _run(device, commands.service_call_iphonesubinfo(code), root)
        add(data_type, parsers.parse_parcel_string(out or ""),
            f"iphonesubinfo {code} gave no string: no SIM/modem, or permission denied")

    out = _run(device, commands.android_id(), None)
    add("android_id", parsers.parse_settings_value(out or ""), "settings has no android_id")

    out = _run(device, commands.wlan_mac(), root)
    add("mac", parsers.parse_mac(out or ""), "no wlan0, or its address is hidden")

    wifi = parsers.parse_wifi_info(_run(device, commands.dumpsys_wifi(), None) or "")
    add("ssid", wifi.ssid if wifi else None, "not connected to Wi-Fi")
    add("bssid", wifi.bssid if wifi else None, "not connected to Wi-Fi")
    add("mac", wifi.mac if wifi else None, "dumpsys wifi shows no real MAC")

    if root:
        xml = _run(device, commands.cat(commands.ADID_SETTINGS), root)
        add("advertising_id", parsers.parse_adid(xml or ""), "no Play services AAID file")
    else:
        log.debug("ground truth: no advertising_id (reading Play services' file needs root)")

    locations = parsers.parse_last_known_locations(
        _run(device, commands.dumpsys_location(), None) or "")
    for _provider, lat, lon in locations:
        add("location", f"{lat:.6f},{lon:.6f}", "")
    if not locations:
        log.debug("ground truth: no location (no last known location)")
    return found
