"""Stub and driver generation from catalogue entries (sources only; the JVM proof is in
tests/integration/test_catalogue_jvm.py)."""

from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.instrument import stubgen
from harness.instrument.catalogue import CatalogueEntry, Condition


def _entry(**kw: object) -> CatalogueEntry:
    base: dict[str, object] = dict(id="x.get", class_name="com.acme.Outer$Inner", method="get",
                                   overloads=None, category="device_id", data_type="imei")
    base.update(kw)
    return CatalogueEntry(**base)  # type: ignore[arg-type]


def test_nested_class_stub_and_driver_call(tmp_path: Path) -> None:
    entry = _entry(params=("java.lang.String",), when=(Condition(arg=0, values=("android_id",)),))
    project = stubgen.generate([entry], tmp_path)
    source = (project.root / "com/acme/Outer.java").read_text()
    assert "public static class Inner {" in source
    assert 'public java.lang.String get(java.lang.String p0) { return "stub:com.acme.Outer$Inner.get"; }' in source
    driver = (project.root / "com/example/sdkprobe/Driver.java").read_text()
    assert 'com.acme.Outer.Inner.consentryTagged("receiver").get("android_id");' in driver
    assert project.expected["x.get"].ret == "stub:com.acme.Outer$Inner.get"
    assert project.expected["x.get"].args == {0: "android_id"}


def test_typed_returns_and_their_recorded_form() -> None:
    mac = _entry(format="bytes_mac")
    assert stubgen._expected_ret(mac) == ":".join(f"{b:02x}" for b in stubgen.stub_value(mac))
    ip = _entry(returns="int", format="ipv4_int")
    value = stubgen.stub_value(ip)
    assert stubgen._expected_ret(ip) == f"{value & 255}.{value >> 8 & 255}.{value >> 16 & 255}.{value >> 24}"
    assert stubgen._expected_ret(_entry(returns="java.util.List")) == "[stub:com.acme.Outer$Inner.get]"
    assert stubgen._expected_ret(_entry(format="permission_result", returns="int")) == "granted"
    assert stubgen._expected_ret(_entry(format="none")) is None


def test_prefix_condition_gets_a_matching_uri_argument(tmp_path: Path) -> None:
    entry = _entry(class_name="android.content.ContentResolver", method="query",
                   params=("android.net.Uri",), returns="android.database.Cursor", format="none",
                   when=(Condition(arg=0, prefixes=("content://sms",)),))
    project = stubgen.generate([entry], tmp_path)
    driver = (project.root / "com/example/sdkprobe/Driver.java").read_text()
    assert 'android.net.Uri.consentryTagged("content://sms/probe")' in driver
    assert (project.root / "android/net/Uri.java").exists()


def test_jdk_classes_are_called_not_stubbed(tmp_path: Path) -> None:
    known = _entry(id="net.URL.openConnection", class_name="java.net.URL", method="openConnection")
    unknown = _entry(id="jdk.unknown", class_name="java.util.UUID", method="randomUUID")
    project = stubgen.generate([known, unknown], tmp_path)
    assert project.uncallable == ["jdk.unknown"]
    assert not (project.root / "java").exists()
    assert project.expected["net.URL.openConnection"].this == "http://127.0.0.1:9/probe"


def test_conflicting_declarations_of_one_method_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="make them agree"):
        stubgen.generate([_entry(id="a"), _entry(id="b", returns="int")], tmp_path)
