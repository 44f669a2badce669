"""The whole pipeline on the specimen app: real Frida and agent on a JVM, real mitmdump,
real TLS, the local tracker server. One accept run and one reject run (module-scoped)."""

from __future__ import annotations

import hashlib
import json

import pytest

from harness.analysis.engine import analyze, write_outputs
from harness.commands.demo import demo_session
from harness.session import SessionResult
from harness.specimen import facts

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def accept_run(tmp_path_factory, jdk, agent_bundle) -> SessionResult:
    return demo_session("accept", tmp_path_factory.mktemp("accept") / "run", settle=1.5)


@pytest.fixture(scope="module")
def reject_run(tmp_path_factory, jdk, agent_bundle) -> SessionResult:
    return demo_session("reject", tmp_path_factory.mktemp("reject") / "run", settle=1.5)


def _findings(run: SessionResult) -> list[dict]:
    return json.loads((run.run_dir / "findings.json").read_text())["findings"]


def _events(run: SessionResult) -> list[dict]:
    return [json.loads(line) for line in (run.run_dir / "events.jsonl").read_text().splitlines()]


def _by(findings: list[dict], rule: str) -> list[dict]:
    return [f for f in findings if f["rule"] == rule]


def test_accept_run_bundle_is_complete(accept_run):
    manifest = json.loads((accept_run.run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    coverage = manifest["coverage"]
    # The specimen stubs only the classes it uses; the rest of the catalogue is skipped as
    # absent (on Android the framework classes exist), never for another reason.
    assert coverage["installed"] >= 20 and coverage["total"] > 300
    assert set(coverage["skipped_by_reason"]) <= {"class not found", "method not found"}
    assert manifest["frida"]["java_bridge"] == "7.0.13"
    assert manifest["clock"]["samples"] > 0 and manifest["clock"]["error"] < 1
    for name, facts_ in manifest["files"].items():
        data = (accept_run.run_dir / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == facts_["sha256"], name
    types = {e["type"] for e in _events(accept_run)}
    assert {"session.start", "hook.call", "permission.check", "lifecycle.resume", "flow.http",
            "consent.shown", "consent.accept", "ui.step", "agent.ready",
            "session.end"} <= types


def test_hook_events_carry_value_stack_thread_and_device_time(accept_run):
    imei_reads = [e for e in _events(accept_run)
                  if e["type"] == "hook.call" and e["data"]["data_type"] == "imei"]
    assert imei_reads
    data = imei_reads[0]["data"]
    assert data["api"] == "android.telephony.TelephonyManager.getDeviceId"
    assert data["category"] == "device_id"
    assert data["ret"] == facts.IMEI
    assert any(frame.startswith("com.umeng.") for frame in data["stack"])
    assert data["thread"] and data["pid"] > 0 and data["process"] == "org.consentry.specimen"
    assert abs(data["device_t"] - imei_reads[0]["t"]) < 1.0


def test_consent_moment_is_recorded_with_screen(accept_run):
    (accept,) = [e for e in _events(accept_run) if e["type"] == "consent.accept"]
    assert (accept_run.run_dir / accept["data"]["screen"]).read_text().startswith("<?xml")
    assert (accept_run.run_dir / accept["data"]["screenshot"]).read_bytes()[:4] == b"\x89PNG"


def test_accept_run_findings(accept_run):
    findings = _findings(accept_run)
    collect = _by(findings, "collect-before-consent")
    umeng = [f for f in collect if f["sdk"] == "Umeng"]
    assert umeng and {"imei", "android_id"} <= set(umeng[0]["data_types"])
    assert umeng[0]["evidence"]["events"]
    send = _by(findings, "send-before-consent")
    assert send, findings
    assert any("imei" in f["data_types"] and "alog.umeng.com" in json.dumps(f) for f in send)
    assert "md5" in json.dumps(send)
    # The first party reads the location only after the tap: no finding about it.
    assert not any("location" in f["data_types"] for f in findings)
    assert not _by(findings, "collect-after-refusal")


def test_reject_run_finds_the_mac_read_after_refusal(reject_run):
    findings = _findings(reject_run)
    after = _by(findings, "collect-after-refusal")
    assert any("mac" in f["data_types"] and f["sdk"] == "Umeng" for f in after), findings


def test_analysis_from_the_bundle_alone_gives_the_same_findings(accept_run, tmp_path):
    before = (accept_run.run_dir / "findings.json").read_bytes()
    write_outputs(accept_run.run_dir, analyze(accept_run.run_dir))
    assert (accept_run.run_dir / "findings.json").read_bytes() == before
    report = (accept_run.run_dir / "report.html").read_text()
    assert "collect-before-consent" in report and "<script src" not in report


def test_tracker_really_received_the_hashed_imei(accept_run):
    flows = [e["data"] for e in _events(accept_run) if e["type"] == "flow.http"]
    assert any(f["host"] == "alog.umeng.com" and f["status"] == 200 for f in flows)
    har = json.loads((accept_run.run_dir / "traffic.har").read_text())
    assert har["log"]["entries"]
    assert facts.imei_md5() in json.dumps(har)
