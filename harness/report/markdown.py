"""``report.md``: a short Markdown summary for CI comments and issue trackers.

Run status, the consent line, a findings table with bilingual titles (as in report.html), the
top evidence of each finding (API, SDK, stack frame, host) and the warnings.

Evidence comes from the app, and a Markdown renderer would otherwise turn it into links,
images (a remote ``![](...)`` fetched by whoever reads the comment), HTML or broken tables. So
evidence is shown only inside code spans (:func:`code`: nothing in them is interpreted), and
other free text goes through :func:`text`, which backslash-escapes every ASCII punctuation
mark. In table cells ``|`` is escaped as ``\\|`` in both, as GitHub's table syntax requires.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from harness.analysis.model import Finding
from harness.analysis.result import AnalysisResult
from harness.files import write_atomic

MAX_EVIDENCE = 3
"""Evidence lines shown per finding; the rest are in findings.json and report.html."""
MAX_CHARS = 160
"""Longest evidence string shown (URLs and excerpts can be kilobytes)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def _flat(value: Any, limit: int = MAX_CHARS) -> str:
    """One line, no control characters, at most ``limit`` characters."""
    flat = _CONTROL.sub(" ", "" if value is None else str(value)).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def text(value: Any) -> str:
    """Free text rendered literally: every ASCII punctuation mark (``|`` too) backslash-escaped."""
    return _PUNCTUATION.sub(r"\\\1", _flat(value))


def code(value: Any, *, cell: bool = False) -> str:
    """A code span that holds ``value`` literally, whatever backticks it contains.

    CommonMark: a span opened by N backticks ends at the next run of exactly N, so the fence
    is one longer than the longest run inside, padded with spaces when the text touches it.
    """
    flat = _flat(value)
    if not flat:
        return "—"
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    span = f"{fence}{pad}{flat}{pad}{fence}"
    return span.replace("|", "\\|") if cell else span


def _seconds(t: float | None) -> str:
    return "—" if t is None else f"{t:.3f}s"


def _section(run: dict[str, Any], key: str) -> dict[str, Any]:
    value = run.get(key)
    return value if isinstance(value, dict) else {}


def _status_lines(result: AnalysisResult) -> list[str]:
    run = result.run_info()
    lines = []
    if run["status"] != "complete":
        reason = run.get("incomplete_reason") or "cut short"
        lines.append(f"> **⚠ Incomplete run** ({text(reason)}): events after the cut are "
                     "missing, so the absence of a finding proves nothing. "
                     "运行未完成，证据不完整。")
    if run["degraded"]:
        lines.append(f"> **⚠ Degraded capture:** {', '.join(code(d) for d in run['degraded'])}")
    if run["warnings"]:
        lines.append(f"> **⚠ Not all evidence was searched:** {len(run['warnings'])} "
                     "warning(s), listed below.")
    for error in result.rule_errors:
        lines.append(f"> **⚠ Rule {code(error.rule)} failed:** {code(error.error)}")
    if not lines:
        lines.append("> ✅ Run complete; all rules ran.")
    return lines


def _header(result: AnalysisResult) -> list[str]:
    run, consent = result.run_info(), result.consent_info()
    app, scenario, target = (_section(run, k) for k in ("app", "scenario", "target"))
    version = f" {code(app['version'])}" if app.get("version") else ""
    return [
        f"**App** {code(app.get('package') or '?')}{version} · "
        f"**Scenario** {code(scenario.get('name') or '?')} · "
        f"**Target** {code(target.get('name') or '?')} · "
        f"**Status** {text(run['status'])} · **Started** {code(run.get('started_at'))}",
        "",
        f"**Consent 同意状态:** {text(consent['state'])}; dialog shown "
        f"{_seconds(consent['shown'])}, decided {_seconds(consent['decided'])}",
    ]


def _table(result: AnalysisResult) -> list[str]:
    if not result.findings:
        return ["No findings. 未发现问题。"]
    titles_zh = {r.id: r.title_zh for r in result.rules}
    lines = ["| # | Rule 规则 | SDK | Data types 数据类型 | First seen 首次 | Count 次数 |",
             "|---|---|---|---|---|---|"]
    for i, f in enumerate(result.findings, 1):
        zh = titles_zh.get(f.rule, "")
        title = text(f.title) + (f"<br>{text(zh)}" if zh else "")
        host = f" → {code(f.details['host'], cell=True)}" if f.details.get("host") else ""
        lines.append(f"| {i} | {title}<br>{code(f.rule, cell=True)} | "
                     f"{code(f.sdk, cell=True)}{host} | "
                     f"{', '.join(code(t, cell=True) for t in f.data_types) or '—'} | "
                     f"{_seconds(f.first_seen)} | {f.count} |")
    return lines


def evidence_lines(finding: Finding) -> list[str]:
    """The top evidence of ``finding`` as list items: reads (API, SDK, frame), sends (host)."""
    details, items = finding.details, []
    for example in details.get("examples", [])[:MAX_EVIDENCE]:
        items.append(f"- {code(example.get('api'))} by {code(finding.sdk)} at "
                     f"{_seconds(example.get('t'))} (event \\#{example.get('seq')}), frame "
                     f"{code(example.get('frame'))}")
    for send in details.get("sends", [])[:MAX_EVIDENCE]:
        read = send.get("read")
        origin = (f", read by {code(read.get('sdk'))} via {code(read.get('api'))} at "
                  f"{_seconds(read.get('t'))}" if isinstance(read, dict)
                  else f", known from {code(send.get('source'))}")
        items.append(f"- sent {code(send.get('data_type'))} to {code(send.get('host'))} "
                     f"({code(send.get('method'))} {code(send.get('url'))}, in "
                     f"{code(send.get('where'))} as {code(send.get('transform'))}) at "
                     f"{_seconds(send.get('t'))}{origin}")
    if details.get("host") and not details.get("sends"):
        items.append(f"- sent to {code(details['host'])}")
    if details.get("screen"):
        items.append(f"- screen {code(details['screen'])}")
    if "requested" in details or "checked" in details:
        items.append(f"- requested: {code(', '.join(details.get('requested', [])))}; "
                     f"checked: {code(', '.join(details.get('checked', [])))}")
    shown = len(items)
    if not items:
        items.append(f"- events {code(', '.join(str(s) for s in finding.events[:20]))}")
    elif finding.count > shown:
        items.append(f"- … {finding.count} occurrence(s) in all; see findings.json")
    return items


def _evidence(result: AnalysisResult) -> list[str]:
    lines: list[str] = []
    for i, f in enumerate(result.findings, 1):
        lines += ["", f"**{i}\\. {code(f.rule)} · {code(f.sdk)} · "
                      f"{', '.join(code(t) for t in f.data_types) or '—'}**", "",
                  *evidence_lines(f)]
    return lines


def render_markdown(result: AnalysisResult) -> str:
    """The whole summary; deterministic (nothing from the time of analysis)."""
    lines = ["# consentry report · 个人信息合规检测报告", "", *_status_lines(result), "",
             *_header(result), "", f"## Findings 发现 ({len(result.findings)})", "",
             *_table(result)]
    if result.findings:
        lines += ["", "## Evidence 证据", *_evidence(result)]
    warnings = result.run_info()["warnings"]
    if warnings:
        lines += ["", "## Warnings 警告", "", *(f"- {code(w)}" for w in warnings)]
    return "\n".join(lines) + "\n"


def write_markdown(path: Path, result: AnalysisResult) -> None:
    write_atomic(path, render_markdown(result))
