from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.instrument.catalogue import load_catalogue

REQUIRED = {
    ("android.telephony.TelephonyManager", "getDeviceId"),
    ("android.telephony.TelephonyManager", "getImei"),
    ("android.telephony.TelephonyManager", "getMeid"),
    ("android.telephony.TelephonyManager", "getSubscriberId"),
    ("android.telephony.TelephonyManager", "getSimSerialNumber"),
    ("android.telephony.TelephonyManager", "getLine1Number"),
    ("android.provider.Settings$Secure", "getString"),
    ("android.net.wifi.WifiInfo", "getMacAddress"),
    ("android.net.wifi.WifiInfo", "getSSID"),
    ("android.net.wifi.WifiInfo", "getBSSID"),
    ("java.net.NetworkInterface", "getHardwareAddress"),
    ("android.location.LocationManager", "getLastKnownLocation"),
    ("android.location.LocationManager", "requestLocationUpdates"),
    ("android.app.ApplicationPackageManager", "getInstalledPackages"),
    ("android.app.ApplicationPackageManager", "getInstalledApplications"),
    ("android.content.ClipboardManager", "getPrimaryClip"),
    ("android.app.ContextImpl", "checkSelfPermission"),
    ("android.app.ContextImpl", "checkPermission"),
    ("android.app.Activity", "requestPermissions"),
}


def test_shipped_catalogue_covers_the_foundation_apis():
    catalogue = load_catalogue()
    have = {(e.class_name, e.method) for e in catalogue.entries}
    assert REQUIRED <= have
    ids = [e.id for e in catalogue.entries]
    assert len(ids) == len(set(ids))


def test_android_id_only_when_the_argument_says_so():
    entry = load_catalogue().by_id()["settings.secure.getString.android_id"]
    assert entry.data_type == "android_id"
    assert [(c.arg, c.values) for c in entry.when] == [(1, ("android_id",))]
    agent = entry.to_agent()
    assert agent["when"] == [{"arg": 1, "in": ["android_id"]}]
    assert agent["overloads"] == [["android.content.ContentResolver", "java.lang.String"]]


def test_permission_entries_emit_permission_events():
    entries = load_catalogue().filter({"permission"}).entries
    assert {e.event for e in entries} == {"permission.check", "permission.request"}
    # The argument named by permissions_arg is the permission (String or String[]): arg 0 of
    # instance methods, arg 1 of the static androidx/support wrappers (Activity/Context first).
    for e in entries:
        assert e.permissions_arg is not None
        assert e.signatures()[0][e.permissions_arg] in ("java.lang.String", "java.lang.String[]")


def test_catalogue_size_and_uri_families():
    catalogue = load_catalogue()
    assert len({(e.class_name, e.method) for e in catalogue.entries}) >= 300
    queries = [e for e in catalogue.entries if e.api == "android.content.ContentResolver.query"]
    assert {e.category for e in queries} >= {"contacts", "call_log", "sms", "calendar", "media"}
    assert all(e.when and e.when[0].prefixes for e in queries)
    tcf = catalogue.by_id()["consent.tcf.putString"]
    assert tcf.event == "consent.signal" and tcf.when[0].prefixes == ("IABTCF_",)
    assert tcf.to_agent()["when"] == [{"arg": 0, "prefix": ["IABTCF_"]}]


def test_docs_table_is_generated_from_the_catalogue():
    from harness.commands.catalogue import markdown
    from harness.resources import catalogue_dir

    doc = catalogue_dir().parent.parent / "docs" / "catalogue.md"
    assert markdown(load_catalogue()) in doc.read_text(encoding="utf-8"), (
        "docs/catalogue.md is stale: regenerate it with `consentry catalogue --markdown`")


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "x.yaml").write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- id: a\n  class: a.B\n  method: m\n  category: c\n", "x.yaml:1: entry needs a non-empty string 'data_type'"),
        ("- id: a\n  class: a.B\n  method: m\n  category: c\n  data_type: d\n  colour: red\n", "x.yaml:6: unknown field 'colour'"),
        ("- id: a\n  class: 'a B'\n  method: m\n  category: c\n  data_type: d\n", "x.yaml:2: class 'a B' is not a Java class name"),
        ("- id: a\n  class: a.B\n  method: m\n  category: c\n  data_type: d\n  overloads: some\n", "x.yaml:6: overloads must be"),
        ("- id: a\n  class: a.B\n  method: m\n  category: c\n  data_type: d\n  event: permission.check\n", "x.yaml:6: permission events need permissions_arg"),
        ("- id: a\n  class: a.B\n  method: m\n  category: c\n  data_type: d\n- id: a\n  class: a.C\n  method: m\n  category: c\n  data_type: d\n", "x.yaml:6: duplicate id 'a'"),
        ("- id: a\n  class: [\n", "x.yaml:3: not valid YAML"),
        ("- id: a\n  class: a.B\n  method: m\n  category: c\n  data_type: d\n  when: [{arg: 0, like: [x]}]\n", "x.yaml:6: when: each condition is"),
        ("- id: a\n  class: a.B\n  method: m\n  category: c\n  data_type: d\n  when: [{arg: 0, prefix: []}]\n", "x.yaml:6: when: prefix must be a non-empty list"),
        ("- id: a\n  class: a.B\n  method: m\n  category: c\n  data_type: d\n  overloads: [[int]]\n  params: [int]\n", "x.yaml:7: params is for overloads: all"),
        ("- id: a\n  class: a.B\n  method: m\n  category: c\n  data_type: d\n  returns: 'a b'\n", "x.yaml:6: returns 'a b' is not a Java type"),
    ],
)
def test_bad_catalogue_names_file_and_line(tmp_path, text, message):
    with pytest.raises(ConfigError) as info:
        load_catalogue(_write(tmp_path, text))
    assert message in str(info.value)
