"""The outcome of analysing one bundle: findings, contained rule errors, and the context."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from harness.analysis.model import Finding, RunContext
from harness.events import FLOW_HTTP, HOOK_CALL

FINDINGS_SCHEMA = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleError:
    """A rule that raised: reported, while the other rules still ran."""

    rule: str
    error: str

    def to_json(self) -> dict[str, str]:
        return {"rule": self.rule, "error": self.error}


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleInfo:
    id: str
    title: str
    title_zh: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalysisResult:
    context: RunContext
    findings: list[Finding]
    """Sorted by (rule, sdk, data types, first seen)."""
    rule_errors: list[RuleError]
    rules: list[RuleInfo]

    @property
    def status(self) -> str:
        return self.context.bundle.status

    def run_info(self) -> dict[str, Any]:
        manifest = self.context.bundle.manifest
        return {
            "status": self.status,
            "incomplete_reason": manifest.get("incomplete_reason"),
            "degraded": sorted(str(d) for d in manifest.get("degraded") or []),
            "warnings": [*self.context.bundle.warnings,
                         *(f"not fully searched: {n}" for n in self.context.scan_notes)],
            "app": manifest.get("app"),
            "target": manifest.get("target"),
            "scenario": manifest.get("scenario"),
            "started_at": manifest.get("started_at"),
            "ended_at": manifest.get("ended_at"),
            "t_start": self.context.t0,
        }

    def consent_info(self) -> dict[str, Any]:
        consent, rel = self.context.consent, self.context.rel
        return {
            "state": consent.state,
            "shown": rel(consent.shown),
            "decided": rel(consent.decided),
            "decisions": [{"t": rel(t), "decision": what} for t, what in consent.decisions],
        }

    def stats(self) -> dict[str, Any]:
        events = self.context.events
        return {
            "events": dict(sorted(Counter(e.type for e in events).items())),
            "flows": sum(1 for e in events if e.type == FLOW_HTTP),
            "hook_calls": sum(1 for e in events if e.type == HOOK_CALL),
            "values_seen": sum(len(v) for v in self.context.values.values_by_type().values()),
            "values_sent": len(self.context.sends),
        }

    def document(self) -> dict[str, Any]:
        """The content of ``findings.json``."""
        return {
            "schema": FINDINGS_SCHEMA,
            "run": self.run_info(),
            "consent": self.consent_info(),
            "findings": [f.to_json() for f in self.findings],
            "rule_errors": [e.to_json() for e in self.rule_errors],
            "rules": [{"id": r.id, "title": r.title, "title_zh": r.title_zh} for r in self.rules],
            "stats": self.stats(),
        }
