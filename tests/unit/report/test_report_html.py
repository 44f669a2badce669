from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from harness.analysis.engine import analyze, write_outputs
from harness.report.html import render_report

EXTERNAL = re.compile(r"""(?:src|href|action|url)\s*[=(]\s*["']?\s*(?:https?:)?//""", re.I)


def test_report_is_self_contained(run_copy: Callable[[str], Path]) -> None:
    run_dir = run_copy("accept")
    write_outputs(run_dir, analyze(run_dir))
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert not EXTERNAL.search(html)
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    assert "@import" not in html
    assert "<svg" in html and "<style>" in html


def test_report_shows_timeline_consent_line_and_findings(runs: Path) -> None:
    html = render_report(analyze(runs / "accept"))
    assert html.count("<line ") == 2  # consent.shown and consent.accept
    assert ">accept</text>" in html
    assert "read: device_id" in html and "network flow" in html
    assert "征得用户同意前收集个人信息" in html
    assert "Tencent Bugly" in html and "alog.umeng.com" in html
    assert "com.umeng.commonsdk.UMConfigure.init(UMConfigure.java:42)" in html
    assert "Run complete; all rules ran." in html


def test_incomplete_run_gets_a_banner(runs: Path) -> None:
    html = render_report(analyze(runs / "truncated"))
    assert "This run is <b>incomplete</b> (harness killed)" in html
    assert "events.jsonl:7: last line is incomplete" in html


def test_evidence_text_is_escaped_never_linked(runs: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "hostile"
    shutil.copytree(runs / "accept", run_dir)
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    event = json.loads(lines[5])
    event["data"]["url"] = 'https://evil.test/"><script src="https://evil.test/x.js"></script>'
    lines[5] = json.dumps(event)
    (run_dir / "events.jsonl").write_text("\n".join(lines) + "\n")
    html = render_report(analyze(run_dir))
    assert "<script" not in html
    assert "&lt;script src=&quot;https://evil.test/x.js&quot;&gt;" in html
    assert not EXTERNAL.search(html)
