"""One finished session as a test sees it: findings to filter and assertions whose failure
message carries the evidence (SDK, data types, first seen, a stack frame, the bundle path)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.analysis.model import Finding
from harness.analysis.result import AnalysisResult, RuleError
from harness.analysis.timeline import Consent
from harness.errors import EvidenceError
from harness.scenario.model import Scenario

#: Findings listed in one failure message before the rest are only counted.
MAX_LISTED = 20


class RunIncomplete(EvidenceError):
    """The session did not keep all its evidence, so its findings prove nothing either way."""

    def __init__(self, run_dir: Path, reason: str) -> None:
        self.run_dir = run_dir
        self.reason = reason
        super().__init__(f"consentry run lost evidence ({reason}); bundle: {run_dir}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsentryRun:
    dir: Path
    """The evidence bundle (manifest.json, events.jsonl, findings.json, report.html ...)."""
    scenario: Scenario
    app: str
    """What ran where, as :meth:`AppUnderTest.describe` says it."""
    analysis: AnalysisResult

    @property
    def status(self) -> str:
        """``complete`` or ``incomplete``, from the bundle's manifest."""
        return self.analysis.status

    @property
    def degraded(self) -> list[str]:
        """Partial losses the manifest records (dropped agent events, canaries not planted)."""
        return sorted(str(d) for d in self.analysis.context.bundle.manifest.get("degraded") or [])

    @property
    def warnings(self) -> list[str]:
        """The bundle's warnings, e.g. traffic not fully searched (decoder caps)."""
        return [str(w) for w in self.analysis.run_info().get("warnings") or []]

    @property
    def findings(self) -> list[Finding]:
        return self.analysis.findings

    @property
    def rule_errors(self) -> list[RuleError]:
        return self.analysis.rule_errors

    @property
    def consent(self) -> Consent:
        """The observed consent moment: ``.state`` (accepted/rejected/never), ``.shown``,
        ``.decisions``."""
        return self.analysis.context.consent

    @property
    def rule_ids(self) -> list[str]:
        return [rule.id for rule in self.analysis.rules]

    def _check_rules(self, rules: Iterable[str]) -> None:
        # A misspelt rule would make assert_no_findings pass whatever the app did.
        unknown = sorted(set(rules) - set(self.rule_ids))
        if unknown:
            raise ValueError(f"unknown rule {', '.join(map(repr, unknown))}; the rules are: "
                             f"{', '.join(self.rule_ids)}")

    def findings_for(self, rule: str | None = None, *, sdk: str | None = None,
                     data_type: str | None = None) -> list[Finding]:
        """Findings of ``rule``, attributed to ``sdk`` (case-insensitive), about ``data_type``;
        a filter left out matches everything."""
        if rule is not None:
            self._check_rules([rule])
        return [f for f in self.findings
                if (rule is None or f.rule == rule)
                and (sdk is None or f.sdk.casefold() == sdk.casefold())
                and (data_type is None or data_type in f.data_types)]

    def assert_no_findings(self, *rules: str, sdk: str | None = None) -> None:
        """Fail when there is any finding of ``rules`` (default: of any rule), or when one of
        those rules crashed (then its silence proves nothing)."""
        __tracebackhide__ = True
        self._check_rules(rules)
        wanted = set(rules) or set(self.rule_ids)
        found = [f for f in self.findings if f.rule in wanted
                 and (sdk is None or f.sdk.casefold() == sdk.casefold())]
        crashed = [e for e in self.rule_errors if e.rule in wanted]
        if not found and not crashed:
            return
        scope = ", ".join(sorted(rules)) if rules else "any rule"
        if sdk is not None:
            scope += f" for SDK {sdk}"
        lines = [f"expected no findings of {scope}, got {len(found)}:"] if found else []
        lines += self.finding_lines(found)
        lines += [f"rule {e.rule} crashed, so its verdict is unknown: {e.error}"
                  for e in crashed]
        lines.append(f"bundle: {self.dir}")
        raise AssertionError("\n".join(lines))

    def assert_finding(self, rule: str, *, sdk: str | None = None,
                       data_type: str | None = None) -> list[Finding]:
        """Fail unless a finding matches; return the matches. The failure message leads with
        the crash of ``rule`` when it crashed (then its missing finding proves nothing)."""
        __tracebackhide__ = True
        matches = self.findings_for(rule, sdk=sdk, data_type=data_type)
        if matches:
            return matches
        wanted = " ".join(p for p in (rule, f"sdk={sdk}" if sdk else "",
                                      f"data_type={data_type}" if data_type else "") if p)
        # A crash of the very rule asked about is the likely cause: say so first.
        lines = [f"rule {e.rule} crashed, so it could not report the finding: {e.error}"
                 for e in self.rule_errors if e.rule == rule]
        lines.append(f"expected a finding {wanted}; the run has {len(self.findings)}"
                     + (":" if self.findings else ""))
        lines += self.finding_lines(self.findings)
        lines.append(f"bundle: {self.dir}")
        raise AssertionError("\n".join(lines))

    # -- text -----------------------------------------------------------------------------

    def example_frame(self, finding: Finding) -> str | None:
        """The stack frame the first attributed event of ``finding`` was attributed on."""
        attributions = self.analysis.context.attributions
        for seq in finding.events:
            attribution = attributions.get(seq)
            if attribution is not None and attribution.frame:
                return attribution.frame
        return None

    def describe(self, finding: Finding) -> str:
        sdk = finding.sdk + (f" ({finding.sdk_package})" if finding.sdk_package
                             and finding.sdk_package not in finding.sdk else "")
        first = ("first seen at an unknown time" if finding.first_seen is None
                 else f"first seen at {finding.first_seen:.2f} s")
        head = (f"- {finding.rule}: {sdk}; {', '.join(finding.data_types) or 'no data type'}; "
                f"{finding.count}x, {first}")
        host = finding.details.get("host")
        if isinstance(host, str):
            head += f"; sent to {host}"
        frame = self.example_frame(finding)
        return head + (f"\n    e.g. at {frame}" if frame else "")

    def finding_lines(self, findings: list[Finding]) -> list[str]:
        lines = [self.describe(f) for f in findings[:MAX_LISTED]]
        if len(findings) > MAX_LISTED:
            lines.append(f"... and {len(findings) - MAX_LISTED} more (see findings.json)")
        return lines

    def summary(self) -> str:
        """The run in a few lines: what ran, status, consent, findings, bundle path."""
        status = self.status
        if self.degraded:
            status += f" (degraded: {'; '.join(self.degraded)})"
        lines = [f"scenario {self.scenario.name!r}, {self.app}: {status}, consent "
                 f"{self.consent.state}, {len(self.findings)} finding(s)"]
        lines += self.finding_lines(self.findings)
        lines += [f"rule {e.rule} crashed: {e.error}" for e in self.rule_errors]
        lines.append(f"bundle: {self.dir}")
        return "\n".join(lines)
