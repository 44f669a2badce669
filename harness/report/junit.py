"""``report.junit.xml``: the run as a JUnit test report, for the test reporters of CI servers.

The layout is the one Jenkins, GitLab and GitHub reporters read: ``testsuites`` > one
``testsuite`` per run (named app package + scenario) > one ``testcase`` per rule (classname =
rule id). A rule with findings is a ``<failure>`` listing them; a rule that crashed is an
``<error>``. The run's own integrity is a testcase too: an incomplete or degraded run is an
``<error>``, and in such a run a rule without findings is ``<skipped>``, never a pass, because
absence of evidence from a run that lost evidence proves nothing.

Evidence comes from the app (URLs, stack frames, values), so every text goes through
:func:`xml_text`: ElementTree escapes markup, and characters XML 1.0 forbids (C0 controls,
lone surrogates, U+FFFE/U+FFFF) are replaced by a visible ``\\xNN`` / ``\\uNNNN``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from harness.analysis.model import Finding
from harness.analysis.result import AnalysisResult
from harness.files import write_atomic

INTEGRITY_CLASS = "consentry.run"
"""classname of the testcase that stands for the run's own integrity."""

_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def xml_text(value: Any) -> str:
    """``value`` as text XML 1.0 can carry (``None`` is empty)."""
    return _ILLEGAL_XML.sub(_visible, "" if value is None else str(value))


def _seconds(t: float | None) -> str:
    return "-" if t is None else f"{t:.3f}s"


def _section(run: dict[str, Any], key: str) -> dict[str, Any]:
    value = run.get(key)
    return value if isinstance(value, dict) else {}


def suite_name(result: AnalysisResult) -> str:
    run = result.run_info()
    package = _section(run, "app").get("package") or "unknown-app"
    scenario = _section(run, "scenario").get("name") or "unknown-scenario"
    return f"{package} ({scenario})"


def properties(result: AnalysisResult) -> list[tuple[str, str]]:
    """Consent state, run status, app, scenario, target and tool versions, as name/value."""
    run, manifest = result.run_info(), result.context.bundle.manifest
    props: list[tuple[str, Any]] = [
        ("consent.state", result.consent_info()["state"]),
        ("run.status", run["status"]),
        ("run.incomplete_reason", run.get("incomplete_reason")),
        ("run.degraded", "; ".join(run["degraded"])),
        ("run.started_at", run.get("started_at")),
        ("run.ended_at", run.get("ended_at")),
    ]
    for section in ("app", "scenario", "target"):
        for key, value in sorted(_section(run, section).items()):
            if not isinstance(value, dict | list):
                props.append((f"{section}.{key}", value))
    props.append(("consentry.version", manifest.get("consentry")))
    frida = manifest.get("frida")
    if isinstance(frida, dict):
        props += [(f"frida.{k}", v) for k, v in sorted(frida.items())
                  if not isinstance(v, dict | list)]
    return [(name, str(value)) for name, value in props if value not in (None, "")]


def integrity_problems(result: AnalysisResult) -> list[str]:
    """Why the run cannot vouch for its own completeness; empty for a sound run."""
    run = result.run_info()
    problems = []
    if run["status"] != "complete":
        reason = run.get("incomplete_reason") or "cut short"
        problems.append(f"run incomplete ({reason}): events after the cut are missing")
    problems += [f"degraded: {d}" for d in run["degraded"]]
    problems += [f"warning: {w}" for w in run["warnings"]]
    return problems


def _finding_text(finding: Finding) -> str:
    """One finding as a few indented lines: who, what, when, and the evidence ids."""
    details = finding.details
    sdk = finding.sdk + (f" ({finding.sdk_package})" if finding.sdk_package else "")
    lines = [f"- {sdk}: {', '.join(finding.data_types) or '-'}; x{finding.count}, "
             f"first seen {_seconds(finding.first_seen)}"]
    if details.get("host"):
        recipient = f" ({details['recipient']})" if details.get("recipient") else ""
        lines.append(f"  sent to {details['host']}{recipient}")
    for example in details.get("examples", []):
        lines.append(f"  call {example.get('api')} at {_seconds(example.get('t'))} "
                     f"(event #{example.get('seq')}, frame {example.get('frame') or '-'})")
    for send in details.get("sends", [])[:3]:
        lines.append(f"  {send.get('method')} {send.get('url')} at {_seconds(send.get('t'))}: "
                     f"{send.get('data_type')} in {send.get('where')} ({send.get('transform')})")
    if details.get("screen"):
        lines.append(f"  screen {details['screen']}")
    events = ", ".join(str(s) for s in finding.events[:40])
    more = " ..." if len(finding.events) > 40 else ""
    lines.append(f"  events: {events}{more}")
    if finding.flows:
        lines.append(f"  flows: {', '.join(finding.flows)}")
    return "\n".join(lines)


def _failure_body(findings: list[Finding]) -> str:
    parts = [_finding_text(f) for f in findings]
    refs = findings[0].refs
    if refs:
        parts.append("refs:\n" + "\n".join(f"  {r}" for r in refs))
    return "\n".join(parts) + "\n"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: Any) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        element.text = xml_text(text)
    return element


def _duration(manifest: dict[str, Any]) -> str:
    start, end = manifest.get("t_start"), manifest.get("t_end")
    if isinstance(start, int | float) and isinstance(end, int | float) and end >= start:
        return f"{end - start:.3f}"
    return "0"


def build_tree(result: AnalysisResult) -> ET.Element:
    """The ``testsuites`` element for ``result``."""
    run = result.run_info()
    problems = integrity_problems(result)
    by_rule: dict[str, list[Finding]] = {}
    for finding in result.findings:
        by_rule.setdefault(finding.rule, []).append(finding)
    errors = {e.rule: e.error for e in result.rule_errors}
    titles = {r.id: (r.title, r.title_zh) for r in result.rules}
    # rules that produced findings or errors but are not listed still get a testcase
    for rule_id in [*by_rule, *errors]:
        if rule_id not in titles:
            found = by_rule.get(rule_id)
            titles[rule_id] = (found[0].title if found else rule_id, "")

    suites = ET.Element("testsuites", name="consentry")
    suite = _sub(suites, "testsuite", name=suite_name(result), time=_duration(
        result.context.bundle.manifest))
    props = _sub(suite, "properties")
    for name, value in properties(result):
        _sub(props, "property", name=name, value=value)

    integrity = _sub(suite, "testcase", classname=INTEGRITY_CLASS, name="run integrity",
                     time="0")
    if problems:
        _sub(integrity, "error", "\n".join(problems) + "\n", type="incomplete-evidence",
             message=problems[0])

    failures = skipped = 0
    for rule_id, (title, title_zh) in titles.items():
        name = f"{title} / {title_zh}" if title_zh else title
        case = _sub(suite, "testcase", classname=rule_id, name=name, time="0")
        if rule_id in errors:
            _sub(case, "error", f"rule {rule_id} raised {errors[rule_id]}\n", type="RuleError",
                 message=errors[rule_id])
        elif rule_id in by_rule:
            found = by_rule[rule_id]
            count = sum(f.count for f in found)
            _sub(case, "failure", _failure_body(found), type=rule_id,
                 message=f"{len(found)} finding(s), {count} occurrence(s): {title}")
            failures += 1
        elif problems:
            _sub(case, "skipped", message="not judged: the run lost evidence, so the absence of "
                 "findings proves nothing (see the run integrity testcase)")
            skipped += 1

    out = [f"status: {run['status']}", f"consent: {result.consent_info()['state']}",
           f"findings: {len(result.findings)}", *problems]
    _sub(suite, "system-out", "\n".join(out) + "\n")
    error_count = len(errors) + (1 if problems else 0)
    total = 1 + len(titles)
    for element in (suite, suites):
        element.set("tests", str(total))
        element.set("failures", str(failures))
        element.set("errors", str(error_count))
        element.set("skipped", str(skipped))
    if run.get("started_at"):
        # the JUnit schema's timestamp has no zone designator; the manifest's is UTC
        suite.set("timestamp", xml_text(str(run["started_at"]).removesuffix("Z")))
    suites.set("time", suite.get("time", "0"))
    return suites


def junit_xml(result: AnalysisResult) -> str:
    """The whole document; deterministic (nothing from the time of analysis)."""
    root = build_tree(result)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def write_junit(path: Path, result: AnalysisResult) -> None:
    write_atomic(path, junit_xml(result))
