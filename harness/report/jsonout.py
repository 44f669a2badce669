"""``findings.json``: the machine-readable result, byte-identical when re-analysed."""

from __future__ import annotations

import json
from pathlib import Path

from harness.analysis.result import AnalysisResult
from harness.files import write_atomic


def findings_json(result: AnalysisResult) -> str:
    """Sorted keys, fixed indentation, no timestamps of the analysis itself: deterministic."""
    return json.dumps(result.document(), ensure_ascii=False, indent=2, sort_keys=True,
                      default=str) + "\n"


def write_findings(path: Path, result: AnalysisResult) -> None:
    write_atomic(path, findings_json(result))
