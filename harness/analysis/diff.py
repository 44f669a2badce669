"""Night-to-night comparison of two runs of the same app: what is new, gone or changed.

Findings are matched on a stable identity, (rule, SDK, sorted data types), never on counts,
times or event numbers, which differ every night. Findings of one run that share an identity
(the send rules group per recipient host) are merged first. A finding present in both runs is
*changed* when its count, the hosts it went to or the trackers behind them differ. Beside the
findings the comparison covers every host contacted, the recipients of personal data (host and
data type) and the data types each SDK read.

Both runs are compared as the current rules judge them (the caller analyses both bundles), so a
rule improved between two nights does not pass for a change in the app.

A run that lost evidence (incomplete, degraded, a rule crashed, a part left unsearched) makes
the comparison one-sided: a finding "gone" from an incomplete new run is not a fix. Such runs
are named in :attr:`RunDiff.warnings` and the finding lists say which side cannot be trusted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from harness.analysis.result import AnalysisResult
from harness.analysis.rules.common import NON_PERSONAL_CATEGORIES, data_type_of
from harness.events import FLOW_HTTP, HOOK_CALL

DIFF_SCHEMA = 1

FindingKey = tuple[str, str, tuple[str, ...]]
"""(rule, SDK, sorted data types): what a finding is, across nights."""
Pair = tuple[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class FindingFacts:
    """The findings of one run that share a :data:`FindingKey`, merged."""

    rule: str
    title: str
    sdk: str
    data_types: tuple[str, ...]
    count: int
    hosts: frozenset[str]
    """Recipient hosts (send rules); empty for the other rules."""
    recipients: frozenset[str]
    """Trackers known behind those hosts."""

    @property
    def key(self) -> FindingKey:
        return (self.rule, self.sdk, self.data_types)

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "title": self.title, "sdk": self.sdk,
                "data_types": list(self.data_types), "count": self.count,
                "hosts": sorted(self.hosts), "recipients": sorted(self.recipients)}


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFacts:
    """What the comparison needs from one analysed run."""

    path: str
    package: str | None
    scenario: str | None
    status: str
    consent: str
    problems: tuple[str, ...]
    """Why this run cannot vouch for its completeness; empty for a sound run."""
    findings: dict[FindingKey, FindingFacts]
    hosts: frozenset[str]
    """Every host the app contacted."""
    recipients: frozenset[Pair]
    """(host, data type) for every personal-data value found in a request."""
    reads: frozenset[Pair]
    """(SDK, data type) for every hooked read of personal data."""

    @property
    def sound(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "package": self.package, "scenario": self.scenario,
                "status": self.status, "consent": self.consent, "sound": self.sound,
                "problems": list(self.problems), "findings": len(self.findings)}


def _problems(result: AnalysisResult) -> tuple[str, ...]:
    run = result.run_info()
    problems = []
    if run["status"] != "complete":
        problems.append(f"incomplete ({run.get('incomplete_reason') or 'cut short'})")
    problems += [f"degraded: {d}" for d in run["degraded"]]
    problems += [f"rule {e.rule} failed: {e.error}" for e in result.rule_errors]
    problems += [f"warning: {w}" for w in run["warnings"]]
    return tuple(problems)


def _name(section: Any) -> str | None:
    if isinstance(section, dict):
        value = section.get("name")
        return str(value) if value is not None else None
    return None


def facts_of(result: AnalysisResult) -> RunFacts:
    """Reduce an analysed run to the facts two nights are compared on."""
    ctx = result.context
    findings: dict[FindingKey, FindingFacts] = {}
    for finding in result.findings:
        key = (finding.rule, finding.sdk, tuple(sorted(finding.data_types)))
        host, recipient = finding.details.get("host"), finding.details.get("recipient")
        seen = findings.get(key)
        findings[key] = FindingFacts(
            rule=finding.rule, title=finding.title, sdk=finding.sdk, data_types=key[2],
            count=finding.count + (seen.count if seen else 0),
            hosts=(seen.hosts if seen else frozenset()) | ({str(host)} if host else set()),
            recipients=(seen.recipients if seen else frozenset())
            | ({str(recipient)} if recipient else set()),
        )
    reads = {(ctx.attributions[e.seq].sdk, data_type_of(e)) for e in ctx.events
             if e.type == HOOK_CALL and e.seq in ctx.attributions
             and str(e.data.get("category") or "") not in NON_PERSONAL_CATEGORIES}
    manifest = ctx.bundle.manifest
    return RunFacts(
        path=str(ctx.bundle.path), package=ctx.bundle.app_package,
        scenario=_name(manifest.get("scenario")), status=result.status,
        consent=ctx.consent.state, problems=_problems(result), findings=findings,
        hosts=frozenset(str(e.data.get("host")) for e in ctx.events
                        if e.type == FLOW_HTTP and e.data.get("host")),
        recipients=frozenset((m.host, m.data_type) for m in ctx.sends if m.host),
        reads=frozenset(reads),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class FindingChange:
    old: FindingFacts
    new: FindingFacts

    def to_json(self) -> dict[str, Any]:
        return {**{k: v for k, v in self.new.to_json().items()
                   if k not in ("count", "hosts", "recipients")},
                "count": {"old": self.old.count, "new": self.new.count},
                "hosts": {"new": sorted(self.new.hosts - self.old.hosts),
                          "gone": sorted(self.old.hosts - self.new.hosts)},
                "recipients": {"new": sorted(self.new.recipients - self.old.recipients),
                               "gone": sorted(self.old.recipients - self.new.recipients)}}


def grouped(pairs: Iterable[Pair]) -> dict[str, list[str]]:
    """{first: sorted seconds}: (host, type) pairs by host, (SDK, type) pairs by SDK."""
    out: dict[str, set[str]] = defaultdict(set)
    for first, second in pairs:
        out[first].add(second)
    return {k: sorted(v) for k, v in sorted(out.items())}


@dataclass(frozen=True, slots=True, kw_only=True)
class RunDiff:
    old: RunFacts
    new: RunFacts
    new_findings: list[FindingFacts]
    gone_findings: list[FindingFacts]
    changed_findings: list[FindingChange]
    unchanged: int

    @property
    def same_app(self) -> bool:
        return self.old.package == self.new.package

    @property
    def warnings(self) -> list[str]:
        """Why the comparison may mislead, most serious first."""
        out = []
        if not self.same_app:
            out.append(f"the runs are of different apps (old {self.old.package}, new "
                       f"{self.new.package}): new and gone findings compare unrelated apps")
        if not self.new.sound:
            out.append(f"the NEW run lost evidence ({'; '.join(self.new.problems)}): a gone "
                       "finding is not a fix, and \"no new finding\" cannot be vouched for")
        if not self.old.sound:
            out.append(f"the OLD run lost evidence ({'; '.join(self.old.problems)}): a new "
                       "finding may only have been missed by it")
        if self.old.scenario != self.new.scenario:
            out.append(f"the scenarios differ (old {self.old.scenario}, new "
                       f"{self.new.scenario}): differences may come from the steps taken")
        return out

    def was(self, finding: FindingFacts) -> list[list[str]]:
        """For a new finding, the data types of gone findings of the same rule and SDK: an SDK
        that now reads one type more shows as new + gone, and this pairs them up again."""
        return [list(g.data_types) for g in self.gone_findings
                if (g.rule, g.sdk) == (finding.rule, finding.sdk)]

    @property
    def hosts_new(self) -> list[str]:
        return sorted(self.new.hosts - self.old.hosts)

    @property
    def hosts_gone(self) -> list[str]:
        return sorted(self.old.hosts - self.new.hosts)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": DIFF_SCHEMA,
            "old": self.old.to_json(),
            "new": self.new.to_json(),
            "same_app": self.same_app,
            "trustworthy": self.old.sound and self.new.sound,
            "warnings": self.warnings,
            "findings": {
                "new": [{**f.to_json(), "was": self.was(f)} for f in self.new_findings],
                "gone": [f.to_json() for f in self.gone_findings],
                # a finding gone from a run that lost evidence is not known to be fixed
                "gone_confirmed": self.new.sound,
                "changed": [c.to_json() for c in self.changed_findings],
                "unchanged": self.unchanged,
            },
            "hosts": {"new": self.hosts_new, "gone": self.hosts_gone},
            "recipients": {"new": grouped(self.new.recipients - self.old.recipients),
                           "gone": grouped(self.old.recipients - self.new.recipients)},
            "reads": {"new": grouped(self.new.reads - self.old.reads),
                      "gone": grouped(self.old.reads - self.new.reads)},
        }


def diff_runs(old: RunFacts, new: RunFacts) -> RunDiff:
    """Compare ``old`` (e.g. last night) with ``new`` (tonight)."""
    added = [new.findings[k] for k in sorted(new.findings.keys() - old.findings.keys())]
    gone = [old.findings[k] for k in sorted(old.findings.keys() - new.findings.keys())]
    changed, unchanged = [], 0
    for key in sorted(old.findings.keys() & new.findings.keys()):
        before, after = old.findings[key], new.findings[key]
        if (before.count, before.hosts, before.recipients) != (
                after.count, after.hosts, after.recipients):
            changed.append(FindingChange(old=before, new=after))
        else:
            unchanged += 1
    return RunDiff(old=old, new=new, new_findings=added, gone_findings=gone,
                   changed_findings=changed, unchanged=unchanged)
