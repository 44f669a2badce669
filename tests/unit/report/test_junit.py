"""report.junit.xml, parsed back with ElementTree: one testsuite per run, a testcase per rule,
failures for findings, errors for crashed rules and for a run that lost evidence."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from harness.analysis.engine import analyze, write_outputs
from harness.analysis.rules import default_rules
from harness.report.junit import INTEGRITY_CLASS, junit_xml, xml_text
from tests.unit.crashing_rule import CrashingRule


def _parse(xml: str) -> ET.Element:
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    return ET.fromstring(xml.encode("utf-8"))


def _cases(root: ET.Element) -> dict[str, ET.Element]:
    return {case.get("classname", ""): case for case in root.iter("testcase")}


def test_complete_run_has_a_failure_per_rule_with_findings(runs: Path) -> None:
    root = _parse(junit_xml(analyze(runs / "accept")))
    [suite] = root.findall("testsuite")
    assert suite.get("name") == "org.consentry.specimen (accept)"
    cases = _cases(root)
    assert len(cases) == len(default_rules()) + 1
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"),
            suite.get("skipped")) == (str(len(cases)), "3", "0", "0")
    assert root.get("failures") == "3" and root.get("tests") == str(len(cases))
    assert list(cases[INTEGRITY_CLASS]) == []  # a sound run: the integrity testcase passes
    assert list(cases["collect-after-refusal"]) == []

    failure = cases["send-before-consent"].find("failure")
    assert failure is not None
    assert failure.get("message") == ("2 finding(s), 3 occurrence(s): "
                                      "Personal data sent before consent")
    body = failure.text or ""
    assert "- Umeng (com.umeng): android_id, imei; x2, first seen 1.500s" in body
    assert "sent to alog.umeng.com" in body
    assert "GET https://android.bugly.qq.com/rqd/async?app=1 at 1.800s" in body
    assert "CN-3P-01" in body
    collect = cases["collect-before-consent"]
    assert collect.get("name") == ("Personal data collected before consent / "
                                   "征得用户同意前收集个人信息")
    collect_body = collect.findtext("failure") or ""
    assert "frame com.umeng.commonsdk.statistics.common.DeviceConfig.getImei" in collect_body
    assert "events: 2, 3" in collect_body


def test_properties_carry_consent_target_and_versions(runs: Path) -> None:
    root = _parse(junit_xml(analyze(runs / "never")))
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["consent.state"] == "never"
    assert props["target.name"] == "local"
    assert props["run.status"] == "complete"
    assert props["app.package"] == "org.consentry.specimen"
    assert props["frida.version"] == "17.26.2"
    assert props["consentry.version"] == "0.1.0"
    assert "run.incomplete_reason" not in props  # null values are left out
    suite = root.find("testsuite")
    assert suite is not None and suite.get("timestamp") == "2026-11-29T10:00:00"
    assert suite.get("time") == "30.000"


def test_incomplete_run_is_an_error_and_clean_rules_are_not_green(runs: Path) -> None:
    root = _parse(junit_xml(analyze(runs / "truncated")))
    cases = _cases(root)
    error = cases[INTEGRITY_CLASS].find("error")
    assert error is not None
    assert error.get("message") == ("run incomplete (harness killed): events after the cut "
                                    "are missing")
    assert "events.jsonl:7: last line is incomplete" in (error.text or "")
    clean = cases["send-after-refusal"]
    assert [child.tag for child in clean] == ["skipped"]
    assert cases["collect-before-consent"].find("failure") is not None
    assert root.get("errors") == "1"
    assert root.get("skipped") == str(len(cases) - 1 - 3)  # all but integrity and 3 failures
    assert not [c for c in cases.values() if len(c) == 0]  # nothing passes


def test_degraded_run_is_an_error(runs: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "degraded"
    shutil.copytree(runs / "accept", run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["degraded"] = ["agent dropped 12 events"]
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    cases = _cases(_parse(junit_xml(analyze(run_dir))))
    error = cases[INTEGRITY_CLASS].find("error")
    assert error is not None and error.get("message") == "degraded: agent dropped 12 events"
    assert cases["send-after-refusal"].find("skipped") is not None


def test_a_crashed_rule_is_an_error_testcase(runs: Path) -> None:
    root = _parse(junit_xml(analyze(runs / "accept", rules=[CrashingRule(), *default_rules()])))
    cases = _cases(root)
    error = cases["always-crashes"].find("error")
    assert error is not None
    assert (error.get("type"), error.get("message")) == ("RuleError", "ZeroDivisionError: boom")
    assert cases["send-before-consent"].find("failure") is not None
    assert list(cases[INTEGRITY_CLASS]) == []
    assert root.get("errors") == "1"


def test_hostile_evidence_is_escaped_and_stays_well_formed(runs: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "hostile"
    shutil.copytree(runs / "accept", run_dir)
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    flow = json.loads(lines[6])  # the Bugly request, a send-before-consent finding
    flow["data"]["url"] = 'https://x.test/?a=1&b=</failure>]]><!--\x00\x1b\x0b"'
    lines[6] = json.dumps(flow)
    read = json.loads(lines[4])
    read["data"]["stack"][1] = "com.tencent.bugly.X.<init>(\x07\uffff\ud800:1)"
    lines[4] = json.dumps(read)
    (run_dir / "events.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8",
                                          errors="surrogatepass")
    xml = junit_xml(analyze(run_dir))
    root = _parse(xml)  # would raise on an illegal character or unescaped markup
    body = _cases(root)["send-before-consent"].findtext("failure") or ""
    assert 'https://x.test/?a=1&b=</failure>]]><!--\\x00\\x1b\\x0b"' in body
    collect = _cases(root)["collect-before-consent"].findtext("failure") or ""
    assert "com.tencent.bugly.X.<init>(\\x07\\uffff\\ud800:1)" in collect
    assert "\x00" not in xml and "\x1b" not in xml


def test_xml_text_keeps_legal_whitespace_and_replaces_the_rest() -> None:
    assert xml_text("a\tb\nc\rd") == "a\tb\nc\rd"
    assert xml_text("\x00\x08\x1f\x7f") == "\\x00\\x08\\x1f\x7f"  # DEL is legal in XML 1.0
    assert xml_text(None) == ""


def test_write_outputs_writes_both_reports_deterministically(
    run_copy: Callable[[str], Path],
) -> None:
    run_dir = run_copy("never")
    write_outputs(run_dir, analyze(run_dir))
    first = [(run_dir / n).read_bytes() for n in ("report.junit.xml", "report.md")]
    write_outputs(run_dir, analyze(run_dir))
    assert [(run_dir / n).read_bytes() for n in ("report.junit.xml", "report.md")] == first
    assert _cases(ET.fromstring(first[0]))["send-before-consent"].find("failure") is not None
    assert first[1].decode("utf-8").startswith("# consentry report")
