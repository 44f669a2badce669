"""What the specimen app is and knows: its package, its planted personal values, its tracker.

These mirror the constants in the Java stubs (``java/android/...``); the integration tests
check the two agree by observing what the running specimen sends.
"""

from __future__ import annotations

import hashlib

PACKAGE = "org.consentry.specimen"
MAIN_CLASS = "org.consentry.specimen.Main"
LAUNCHER_PACKAGE = "com.android.launcher3"
VARIANTS = ("default", "notice", "second-layer", "permissions")

#: Where Umeng's start-up report goes unless ``consentry.specimen.tracker`` says otherwise.
TRACKER_URL = "https://alog.umeng.com/app_logs"
TRACKER_PROPERTY = "consentry.specimen.tracker"
#: Host names the local tracker's certificate covers (tracker hosts of the specimen's SDKs).
TRACKER_HOSTS = ("alog.umeng.com", "ulogs.umeng.com", "android.bugly.qq.com", "app.adjust.com",
                 "localhost")

IMEI = "866123045678912"
#: ``getImei(slot)``/``getDeviceId(slot)``: the IMEI with its last digit replaced by the slot.
SLOT_IMEIS = tuple(IMEI[:-1] + str(slot) for slot in range(3))

#: The specimen's own personal values by data type (the target's ground truth).
GROUND_TRUTH: dict[str, list[str]] = {
    "imei": [IMEI, *SLOT_IMEIS],
    "meid": ["A1000049D2F7B1"],
    "imsi": ["460001234567890"],
    "iccid": ["89860012345678901234"],
    "phone_number": ["+8613800138000"],
    "android_id": ["5e3d9c7a1b2f4e60"],
    "mac": ["3c:5a:b4:12:7e:9f"],
    "bluetooth_mac": ["3c:5a:b4:12:7e:a0"],
    "bssid": ["a4:2b:b0:c1:d2:e3"],
    "ssid": ["consentry-lab"],
    "device_name": ["Specimen Phone"],
    "location": ["39.904211,116.407395"],
    "installed_packages": [
        "com.tencent.mm",
        "com.eg.android.AlipayGphone",
        "com.taobao.taobao",
        "com.ss.android.ugc.aweme",
    ],
    "clipboard": ["consentry-clipboard-canary"],
}


def imei_md5() -> str:
    """What Umeng's start-up report carries as ``device_id_md5``."""
    return hashlib.md5(IMEI.encode("ascii")).hexdigest()
