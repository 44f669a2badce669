"""A few lines of plain text for the terminal: status, consent, findings by rule."""

from __future__ import annotations

from collections import defaultdict

from harness.analysis.model import Finding
from harness.analysis.result import AnalysisResult


def _seconds(t: float | None) -> str:
    return "-" if t is None else f"{t:.1f}s"


def summary(result: AnalysisResult) -> str:
    run, consent = result.run_info(), result.consent_info()
    app = (run.get("app") or {}).get("package", "?") if isinstance(run.get("app"), dict) else "?"
    scenario = run.get("scenario")
    scenario_name = scenario.get("name", "?") if isinstance(scenario, dict) else "?"
    lines = [f"run: {result.context.bundle.path}",
             f"app: {app}   scenario: {scenario_name}   status: {run['status']}"]
    if run["status"] != "complete":
        reason = run.get("incomplete_reason") or "run cut short"
        lines.append(f"  ! incomplete run ({reason}): evidence after the cut is missing")
    if run["degraded"]:
        lines.append(f"  ! degraded: {', '.join(run['degraded'])}")
    lines.append(f"consent: {consent['state']} (dialog shown {_seconds(consent['shown'])}, "
                 f"decided {_seconds(consent['decided'])})")
    by_rule: dict[str, list[Finding]] = defaultdict(list)
    for finding in result.findings:
        by_rule[finding.rule].append(finding)
    lines.append(f"findings: {len(result.findings)}")
    for rule, findings in by_rule.items():
        lines.append(f"  {rule} ({len(findings)}):")
        for f in findings:
            where = f" -> {f.details['host']}" if "host" in f.details else ""
            lines.append(f"    {f.sdk}{where}: {', '.join(f.data_types)} "
                         f"x{f.count}, first at {_seconds(f.first_seen)}")
    for error in result.rule_errors:
        lines.append(f"  ! rule {error.rule} failed: {error.error}")
    for warning in result.context.bundle.warnings:
        lines.append(f"  ! {warning}")
    return "\n".join(lines)
