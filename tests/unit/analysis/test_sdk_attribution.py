from __future__ import annotations

import csv
from pathlib import Path

import pytest

from harness.analysis.attribution import (
    SdkEntry,
    SdkTable,
    attribute,
    frame_name,
    load_sdk_table,
)
from harness.errors import InputError

APP = "org.consentry.specimen"


@pytest.mark.parametrize(
    ("stack", "sdk", "package"),
    [
        (["java.lang.Thread.getStackTrace(Thread.java:1)",
          "android.telephony.TelephonyManager.getDeviceId(TelephonyManager.java:2)",
          "com.umeng.commonsdk.UMConfigure.init(UMConfigure.java:42)",
          f"{APP}.App.onCreate(App.java:10)"], "Umeng", "com.umeng"),
        (["com.tencent.bugly.crashreport.CrashReport.init(BUGLY:1)"], "Tencent Bugly",
         "com.tencent.bugly"),
        (["com.igexin.push.core.a.b(Unknown Source)"], "GeTui", "com.igexin"),
        (["cn.jiguang.a.a.c(Unknown Source:3)"], "Jiguang (JPush core)", "cn.jiguang"),
        (["com.bytedance.sdk.openadsdk.core.g.a(Unknown Source)"], "Pangle (CSJ)",
         "com.bytedance.sdk.openadsdk"),
        (["com.qq.e.comm.managers.GDTADManager.init(A:1)"], "Tencent GDT (Youlianghui)",
         "com.qq.e"),
        # Google Play services is an SDK, not framework; the more specific prefix wins
        (["com.google.android.gms.ads.identifier.AdvertisingIdClient.getAdvertisingIdInfo(A:1)"],
         "Google Advertising ID", "com.google.android.gms.ads.identifier"),
        (["androidx.core.content.ContextCompat.checkSelfPermission(C.java:1)",
          "kotlin.jvm.internal.Intrinsics.a(I.java:1)",
          f"{APP}.MainActivity.onCreate(MainActivity.java:3)"], "app", APP),
        (["com.acme.tracker.core.Collector.collect(Collector.java:5)"],
         "unknown: com.acme.tracker", "com.acme.tracker"),
        (["a.b.c(Unknown Source)"], "unknown: a", "a"),
        (["at com.appsflyer.internal.AFa1uSDK$1.run(Unknown Source:12)"], "AppsFlyer",
         "com.appsflyer"),
        (["java.net.NetworkInterface.getHardwareAddress(NI.java:1)",
          "java.lang.Thread.run(Thread.java:1)"], "unknown", None),
        ([], "unknown", None),
    ],
)
def test_nearest_non_framework_frame(stack: list[str], sdk: str, package: str | None) -> None:
    result = attribute(stack, APP, load_sdk_table())
    assert (result.sdk, result.sdk_package) == (sdk, package)


def test_frida_bridge_frames_are_skipped() -> None:
    stack = ["re.frida.Gadget.hook(Native Method)", "com.umeng.analytics.MobclickAgent.x(M:1)"]
    assert attribute(stack, APP, load_sdk_table()).sdk == "Umeng"


def test_sdk_prefix_more_specific_than_the_app_package_wins() -> None:
    table = SdkTable([SdkEntry("com.tencent.bugly", "Bugly", "crash_reporting")])
    frame = "com.tencent.bugly.a.b(Unknown Source)"
    assert attribute([frame], "com.tencent", table).sdk == "Bugly"
    assert attribute(["com.tencent.news.Main.run(M:1)"], "com.tencent", table).sdk == "app"


def test_prefix_matches_whole_package_components_only() -> None:
    table = SdkTable([SdkEntry("com.mob", "MobTech", "analytics")])
    assert attribute(["com.mobile.x.Y.z(Y:1)"], None, table).sdk == "unknown: com.mobile.x"


def test_frame_name_strips_source_location() -> None:
    assert frame_name("com.a.B$1.run(B.java:3)") == "com.a.B$1.run"
    assert frame_name("   ") is None


def test_table_has_unique_prefixes_and_known_types() -> None:
    table = load_sdk_table()
    prefixes = [e.prefix for e in table.entries]
    assert len(prefixes) >= 150
    assert len(prefixes) == len(set(prefixes))
    assert {e.type for e in table.entries} <= {
        "advertising", "analytics", "attribution", "crash_reporting", "development",
        "identity", "location", "payment", "push", "social"}


def test_bad_table_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text('{"sdks": [{"prefix": "com.x"}]}')
    with pytest.raises(InputError, match=r"sdks\[0\]"):
        load_sdk_table(path)


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("dalvik", "sdk"),
    [("Lcom/igexin", "GeTui"), ("Lcom/tencent/bugly", "Tencent Bugly"),
     ("Lcom/umeng/analytics", "Umeng"), ("Lcn/jpush/android", "JPush"),
     ("Lcom/baidu/location", "Baidu Location"), ("Lcom/appsflyer", "AppsFlyer")],
)
def test_libradar_labelled_prefixes_attribute_to_the_same_sdk(
    shared_data: Path, dalvik: str, sdk: str
) -> None:
    path = shared_data / "libradar-tag-rules" / "tag_rules.csv"
    if not path.is_file():
        pytest.skip("libradar-tag-rules/tag_rules.csv is not present")
    with path.open(encoding="utf-8") as fh:
        labelled = {row["Package Name"]: row["Library Name"] for row in csv.DictReader(fh)}
    assert labelled.get(dalvik, "no") != "no"  # LibRadar labels this prefix as a library
    package = dalvik[1:].replace("/", ".")
    frame = f"{package}.internal.Worker.run(Unknown Source)"
    assert attribute([frame], APP, load_sdk_table()).sdk == sdk
