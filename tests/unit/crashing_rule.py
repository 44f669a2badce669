"""A rule that always raises: how the engine, the reports and the pytest plugin treat a rule
that crashed (its silence must never read as "no finding")."""

from __future__ import annotations

from harness.analysis.model import Finding, RunContext


class CrashingRule:
    title = "Broken"
    title_zh = "坏"
    refs: tuple[str, ...] = ()

    def __init__(self, rule_id: str = "always-crashes", error: Exception | None = None) -> None:
        self.id = rule_id
        self.error = error or ZeroDivisionError("boom")

    def evaluate(self, ctx: RunContext) -> list[Finding]:
        raise self.error
