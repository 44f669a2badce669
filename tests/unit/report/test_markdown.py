"""report.md: status, consent line, bilingual findings table, top evidence, warnings; evidence
never becomes a link, an image, HTML or a broken table."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from harness.analysis.engine import analyze
from harness.analysis.rules import default_rules
from harness.report.markdown import code, render_markdown, text
from tests.unit.crashing_rule import CrashingRule


def _table_rows(md: str) -> list[str]:
    return [line for line in md.splitlines() if line.startswith("| ") and "---" not in line]


def _cells(row: str) -> list[str]:
    """Split a GFM table row the way GitHub does: on pipes not escaped with a backslash."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", row.strip().strip("|"))]


def test_complete_run_summary(runs: Path) -> None:
    md = render_markdown(analyze(runs / "accept"))
    assert md.startswith("# consentry report · 个人信息合规检测报告\n")
    assert "> ✅ Run complete; all rules ran." in md
    assert "**Consent 同意状态:** accepted; dialog shown 2.000s, decided 3.000s" in md
    assert "## Findings 发现 (5)" in md
    header, *rows = _table_rows(md)
    assert len(rows) == 5
    assert all(len(_cells(r)) == len(_cells(header)) for r in rows)
    umeng_send = next(r for r in rows if "send-before-consent" in r and "Umeng" in r)
    assert _cells(umeng_send)[1:] == [
        "Personal data sent before consent<br>征得用户同意前向外发送个人信息<br>"
        "`send-before-consent`",
        "`Umeng` → `alog.umeng.com`", "`android_id`, `imei`", "1.500s", "2"]
    assert ("- `android.telephony.TelephonyManager.getDeviceId` by `Umeng` at 0.500s (event "
            "\\#2), frame `com.umeng.commonsdk.statistics.common.DeviceConfig.getImei("
            "DeviceConfig.java:120)`") in md
    assert ("- sent `android_id` to `android.bugly.qq.com` (`GET` "
            "`https://android.bugly.qq.com/rqd/async?app=1`, in `header:X-Device` as "
            "`base64`) at 1.800s") in md
    assert "## Warnings" not in md


def test_incomplete_run_says_so_first(runs: Path) -> None:
    md = render_markdown(analyze(runs / "truncated"))
    first_quote = next(line for line in md.splitlines() if line.startswith(">"))
    assert first_quote.startswith("> **⚠ Incomplete run** (harness killed)")
    assert "✅" not in md
    assert "## Warnings 警告" in md
    assert "events.jsonl:7: last line is incomplete" in md


def test_crashed_rule_is_a_warning_line(runs: Path) -> None:
    md = render_markdown(analyze(runs / "never", rules=[CrashingRule(), *default_rules()]))
    assert "> **⚠ Rule `always-crashes` failed:** `ZeroDivisionError: boom`" in md
    assert "✅" not in md


def test_no_findings(runs: Path, tmp_path: Path) -> None:
    md = render_markdown(analyze(runs / "accept", rules=[]))
    assert "## Findings 发现 (0)" in md and "No findings. 未发现问题。" in md
    assert "## Evidence" not in md


def test_hostile_evidence_stays_literal(runs: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "hostile"
    shutil.copytree(runs / "accept", run_dir)
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    flow = json.loads(lines[6])  # the Bugly request
    flow["data"]["host"] = "a|b`c.test"
    flow["data"]["url"] = "https://x.test/![p](https://evil.test/p.png)<img src=x>|``"
    lines[6] = json.dumps(flow)
    (run_dir / "events.jsonl").write_text("\n".join(lines) + "\n")
    md = render_markdown(analyze(run_dir))
    header, *rows = _table_rows(md)
    assert all(len(_cells(r)) == len(_cells(header)) for r in rows)  # the | did not split
    assert any("→ ``a\\|b`c.test``" in r for r in rows)
    assert "``` https://x.test/![p](https://evil.test/p.png)<img src=x>|`` ```" in md
    # outside code spans nothing from the evidence survives unescaped
    outside = re.sub(r"(`+).*?\1", "", md)
    assert "evil.test" not in outside and "<img" not in outside


def test_code_span_fences_and_text_escapes() -> None:
    assert code("plain") == "`plain`"
    assert code("a`b") == "``a`b``"
    assert code("`x`") == "`` `x` ``"
    assert code("a|b", cell=True) == "`a\\|b`"
    assert code("line\nbreak\x00") == "`line break`"
    assert code(None) == "—"
    assert text("*bold* [l](u) <b>") == "\\*bold\\* \\[l\\]\\(u\\) \\<b\\>"


def test_warnings_reach_the_banner(runs: Path, tmp_path: Path) -> None:
    warned = tmp_path / "warned"
    shutil.copytree(runs / "accept", warned)
    with (warned / "events.jsonl").open("a") as events:
        events.write('{"seq": 999, "t": 1.0, "type": "hook.ca')  # cut mid-line
    banner = render_markdown(analyze(warned)).split("\n\n")[1]
    assert "Not all evidence was searched" in banner and "Run complete" not in banner
