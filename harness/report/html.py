"""``report.html``: one self-contained page (inline CSS and SVG, no script, no external link).

Everything taken from the evidence (URLs, stack frames, values) is escaped and shown as text,
never as a link, so opening a report never contacts a host the app talked to.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from harness.analysis.annotate import MATCHES_FILE, annotate
from harness.analysis.model import Finding
from harness.analysis.result import AnalysisResult
from harness.files import write_atomic
from harness.report.timeline_svg import PHASE_COLOURS, timeline_svg

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#212529;max-width:1200px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #dee2e6;padding:5px 7px;
vertical-align:top;text-align:left}th{background:#f1f3f5}
.banner{padding:10px 14px;border-radius:4px;margin:12px 0;background:#fff3bf;
border:1px solid #fab005}.ok{background:#d3f9d8;border-color:#40c057}
.muted{color:#868e96}.zh{color:#495057;font-size:12px;display:block}
pre{background:#f8f9fa;padding:6px;margin:4px 0;white-space:pre-wrap;word-break:break-all;
font-size:12px}code{font-size:12px}details{margin:2px 0}
.lane{font-size:11px;fill:#495057}.axis{font-size:10px;fill:#868e96}
.consent{font-size:10px;fill:#212529}.key span{display:inline-block;width:10px;height:10px;
margin:0 4px 0 12px}
"""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value))


def _seconds(t: float | None) -> str:
    return "—" if t is None else f"{t:.3f}s"


def _banner(result: AnalysisResult) -> str:
    run = result.run_info()
    problems = []
    if run["status"] != "complete":
        reason = _e(run.get("incomplete_reason") or "cut short")
        problems.append(f"This run is <b>incomplete</b> ({reason}): events after the cut are "
                        "missing, so absence of a finding proves nothing. 运行未完成，证据不完整。")
    if run["degraded"]:
        problems.append(f"Degraded capture: {_e(', '.join(run['degraded']))}")
    problems += [_e(w) for w in run["warnings"]]
    problems += [f"Rule <b>{_e(e.rule)}</b> failed: {_e(e.error)}" for e in result.rule_errors]
    if not problems:
        return '<div class="banner ok">Run complete; all rules ran.</div>'
    return "".join(f'<div class="banner">{p}</div>' for p in problems)


def _section(run: dict[str, Any], key: str) -> dict[str, Any]:
    value = run.get(key)
    return value if isinstance(value, dict) else {}


def _header(result: AnalysisResult) -> str:
    run, consent = result.run_info(), result.consent_info()
    app, scenario, target = (_section(run, k) for k in ("app", "scenario", "target"))
    rows = [
        ("App", f"{_e(app.get('package'))} {_e(app.get('version') or '')}"),
        ("Scenario", _e(scenario.get("name"))),
        ("Target", _e(", ".join(f"{k}={v}" for k, v in sorted(target.items())
                                if not isinstance(v, dict | list)))),
        ("Started", _e(run.get("started_at"))),
        ("Status", _e(run["status"])),
        ("Consent 同意状态", f"<b>{_e(consent['state'])}</b>; dialog shown "
         f"{_seconds(consent['shown'])}, decided {_seconds(consent['decided'])}"),
    ]
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _stack_block(example: dict[str, Any]) -> str:
    frames = "\n".join(str(f) for f in example.get("stack") or [])
    return (f"<details><summary>#{_e(example.get('seq'))} {_e(example.get('api'))} at "
            f"{_seconds(example.get('t'))} (frame: <code>{_e(example.get('frame'))}</code>)"
            f"</summary><pre>{_e(frames)}</pre></details>")


def _recipient(send: dict[str, Any]) -> str:
    return f", recipient {_e(send['recipient'])}" if send.get("recipient") else ""


def _send_block(send: dict[str, Any]) -> str:
    read = send.get("read")
    party = f", {_e(send['party'])} party" if send.get("party") else ""
    origin = (f"read by {_e(read.get('sdk'))} via <code>{_e(read.get('api'))}</code> "
              f"(#{_e(read.get('seq'))}) at {_seconds(read.get('t'))}" if read else
              f"no hooked read: the value is known from {_e(send.get('source'))}")
    return (f"<details><summary>{_e(send.get('method'))} {_e(send.get('host'))} at "
            f"{_seconds(send.get('t'))}: {_e(send.get('data_type'))} in {_e(send.get('where'))}"
            f" ({_e(send.get('transform'))}){_recipient(send)}{party}</summary>"
            f"<pre>{_e(send.get('url'))}\n"
            f"{_e(send.get('excerpt'))}</pre>{origin}</details>")


def _traffic_table(result: AnalysisResult) -> str:
    """Requests that carried a known value (all of them are in traffic.matches.json)."""
    flows = annotate(result.context)["flows"]
    rows = "".join(
        f"<tr><td>{f['index']}</td><td>{_seconds(f['t'])}</td><td>{_e(f['method'])} "
        f"{_e(f['host'])}<span class='zh'>{_e(f['etld1'])}, {_e(f['party'])} party"
        f"{', ' + _e(f['tracker']) if f['tracker'] else ''}</span></td><td>"
        + "<br>".join(f"{_e(m['data_type'])} in <code>{_e(m['where'])}</code> "
                      f"(<code>{_e(m['transform'])}</code>, from {_e(m['source'])})"
                      for m in f["matches"])
        + "</td></tr>" for f in flows if f["matches"])
    if not rows:
        return f"<p>{len(flows)} requests; none carried a known value.</p>"
    head = ("<tr><th>#</th><th>Time</th><th>Request 请求</th>"
            "<th>Values found 发现的个人信息</th></tr>")
    return f"<p>{len(flows)} requests; details in {MATCHES_FILE}.</p><table>{head}{rows}</table>"


def _finding_row(finding: Finding, titles_zh: dict[str, str]) -> str:
    details = finding.details
    evidence = "".join(_stack_block(x) for x in details.get("examples", []))
    evidence += "".join(_send_block(s) for s in details.get("sends", []))
    if details.get("before_dialog_shown"):
        evidence += (f"<div><b>{_e(details['before_dialog_shown'])}</b> before the dialog was on "
                     f"screen (not shown before {_seconds(details.get('dialog_not_shown_before'))})"
                     "<span class='zh'>隐私弹窗出现前</span></div>")
    if "requested" in details or "checked" in details:
        evidence += (f"<div>requested: {_e(', '.join(details.get('requested', [])))}; "
                     f"checked: {_e(', '.join(details.get('checked', [])))}</div>")
    seqs = ", ".join(str(s) for s in finding.events[:40])
    more = " …" if len(finding.events) > 40 else ""
    flows = f"<div>flows: {_e(', '.join(finding.flows))}</div>" if finding.flows else ""
    sdk = _e(finding.sdk) + (f"<span class='zh'>{_e(finding.sdk_package)}</span>"
                             if finding.sdk_package else "")
    return (f"<tr><td><b>{_e(finding.title)}</b><span class='zh'>"
            f"{_e(titles_zh.get(finding.rule, ''))}</span><code>{_e(finding.rule)}</code></td>"
            f"<td>{sdk}</td><td>{_e(', '.join(finding.data_types))}</td>"
            f"<td>{_seconds(finding.first_seen)}</td><td>{finding.count}</td>"
            f"<td>{evidence}<div class='muted'>events: {seqs}{more}</div>{flows}"
            f"<div class='muted'>{_e('; '.join(finding.refs))}</div></td></tr>")


def _findings_table(result: AnalysisResult) -> str:
    if not result.findings:
        return "<p>No findings. 未发现问题。</p>"
    titles_zh = {r.id: r.title_zh for r in result.rules}
    head = ("<tr><th>Rule 规则</th><th>SDK</th><th>Data types 数据类型</th>"
            "<th>First seen 首次</th><th>Count 次数</th><th>Evidence 证据</th></tr>")
    rows = "".join(_finding_row(f, titles_zh) for f in result.findings)
    return f"<table>{head}{rows}</table>"


def _key() -> str:
    names = {"before": "before consent 同意前", "refused": "after refusal 拒绝后",
             "accepted": "after accept 同意后"}
    return "<p class='key'>" + "".join(
        f"<span style='background:{c}'></span>{names[p]}" for p, c in PHASE_COLOURS.items()
    ) + "; circles: reads and UI steps, bars: network flows</p>"


def render_report(result: AnalysisResult) -> str:
    stats = json.dumps(result.stats(), indent=2, sort_keys=True)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>consentry report</title><style>{CSS}</style></head><body>"
        "<h1>consentry report · 个人信息合规检测报告</h1>"
        f"{_banner(result)}{_header(result)}"
        f"<h2>Timeline 时间线</h2>{_key()}{timeline_svg(result.context)}"
        f"<h2>Findings 发现 ({len(result.findings)})</h2>{_findings_table(result)}"
        f"<h2>Traffic 流量</h2>{_traffic_table(result)}"
        f"<h2>Statistics 统计</h2><pre>{_e(stats)}</pre>"
        "</body></html>\n"
    )


def write_report(path: Path, result: AnalysisResult) -> None:
    write_atomic(path, render_report(result))
