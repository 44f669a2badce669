"""Analysis of a bundle recorded for real: the specimen app under Frida, mitmdump, real TLS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from tests.conftest import require_tool


@pytest.mark.integration
def test_reject_run_of_the_specimen(tmp_path: Path, jdk: str, agent_bundle: object) -> None:
    require_tool("mitmdump", "pip install mitmproxy")
    run_dir = tmp_path / "reject"
    assert main(["demo", "--scenario", "reject", "--out", str(run_dir), "--no-analyze"]) == 0
    assert not (run_dir / "findings.json").exists()
    assert main(["analyze", str(run_dir)]) == 0
    doc = json.loads((run_dir / "findings.json").read_text(encoding="utf-8"))
    assert doc["run"]["status"] == "complete"
    assert doc["consent"]["state"] == "rejected"
    found = {(f["rule"], f["sdk"]): f for f in doc["findings"]}
    assert found[("collect-before-consent", "Umeng")]["data_types"] == ["android_id", "imei"]
    assert "READ_PHONE_STATE" in found[("permission-before-consent", "Umeng")]["data_types"][0]
    send = found[("send-before-consent", "Umeng")]
    [detail] = send["details"]["sends"]
    assert (detail["host"], detail["data_type"], detail["transform"]) == (
        "alog.umeng.com", "imei", "md5-hex-lower")
    assert detail["read"]["api"] == "android.telephony.TelephonyManager.getDeviceId"
    assert send["evidence"]["flows"] == [detail["flow"]]
    after = found[("collect-after-refusal", "Umeng")]
    assert after["first_seen"] >= doc["consent"]["decided"]
    # everything the app itself reads happens only after an accept, which never came
    assert not [f for f in doc["findings"] if f["sdk"] == "app"]
