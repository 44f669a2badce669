"""Runs the rules over one bundle. Pure: reads only the run directory, decides nothing by clock.

A rule that raises is contained (as mitmproxy's ``safecall`` contains an addon): it becomes a
``rule_errors`` entry and the other rules still run, so one bug cannot hide every finding.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from harness.analysis.annotate import write_annotations
from harness.analysis.attribution import Attribution, SdkTable, attribute, load_sdk_table
from harness.analysis.model import Finding, Rule, RunContext
from harness.analysis.result import AnalysisResult, RuleError, RuleInfo
from harness.analysis.rules import default_rules
from harness.analysis.sendmatch import match_flows
from harness.analysis.timeline import consent_of
from harness.analysis.values import build_index
from harness.bundle import RunBundle, load_bundle
from harness.events import HOOK_CALL, PERMISSION_TYPES
from harness.report.html import write_report
from harness.report.jsonout import write_findings
from harness.report.junit import write_junit
from harness.report.markdown import write_markdown

log = logging.getLogger(__name__)

ATTRIBUTED_TYPES = frozenset({HOOK_CALL}) | PERMISSION_TYPES


def build_context(bundle: RunBundle, table: SdkTable | None = None) -> RunContext:
    table = table or load_sdk_table()
    attributions: dict[int, Attribution] = {}
    for event in bundle.events:
        if event.type in ATTRIBUTED_TYPES:
            stack = [str(frame) for frame in event.data.get("stack") or []]
            attributions[event.seq] = attribute(stack, bundle.app_package, table)
    values = build_index(bundle.events, attributions)
    scan = match_flows(bundle.events, values.values_by_type())
    return RunContext(bundle=bundle, consent=consent_of(bundle.events),
                      attributions=attributions, values=values, sends=scan.matches,
                      scan_notes=scan.notes)


def run_rules(ctx: RunContext, rules: Sequence[Rule]) -> tuple[list[Finding], list[RuleError]]:
    findings: list[Finding] = []
    errors: list[RuleError] = []
    for rule in rules:
        try:
            findings.extend(rule.evaluate(ctx))
        except Exception as exc:  # noqa: BLE001 - containment is the point
            log.error("rule %s failed: %s: %s", rule.id, type(exc).__name__, exc)
            errors.append(RuleError(rule=rule.id, error=f"{type(exc).__name__}: {exc}"))
    order = {rule.id: i for i, rule in enumerate(rules)}
    findings.sort(key=lambda f: (order.get(f.rule, len(order)), f.sort_key()))
    return findings, errors


def analyze_bundle(bundle: RunBundle, rules: Sequence[Rule] | None = None,
                   table: SdkTable | None = None) -> AnalysisResult:
    rules = list(default_rules() if rules is None else rules)
    ctx = build_context(bundle, table)
    findings, errors = run_rules(ctx, rules)
    infos = [RuleInfo(id=r.id, title=r.title, title_zh=r.title_zh) for r in rules]
    return AnalysisResult(context=ctx, findings=findings, rule_errors=errors, rules=infos)


def analyze(run_dir: Path, rules: Sequence[Rule] | None = None) -> AnalysisResult:
    """Analyse the run directory ``run_dir`` (raises :class:`EvidenceError` if unreadable)."""
    return analyze_bundle(load_bundle(run_dir), rules)


def write_outputs(run_dir: Path, result: AnalysisResult) -> None:
    """Write ``findings.json``, ``traffic.matches.json``, ``report.html``, ``report.junit.xml``
    and ``report.md`` into ``run_dir``. All are derived from the bundle after the manifest's
    file hashes were taken, so re-analysing never touches the hashed evidence."""
    write_findings(Path(run_dir) / "findings.json", result)
    write_annotations(Path(run_dir), result.context)
    write_report(Path(run_dir) / "report.html", result)
    write_junit(Path(run_dir) / "report.junit.xml", result)
    write_markdown(Path(run_dir) / "report.md", result)
