"""``findings.json``: the machine-readable result, byte-identical when re-analysed."""

from __future__ import annotations

import json
import os
from pathlib import Path

from harness.analysis.result import AnalysisResult
from harness.errors import EvidenceError


def findings_json(result: AnalysisResult) -> str:
    """Sorted keys, fixed indentation, no timestamps of the analysis itself: deterministic."""
    return json.dumps(result.document(), ensure_ascii=False, indent=2, sort_keys=True,
                      default=str) + "\n"


def write_text_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a crash never leaves half a report."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise EvidenceError(f"{path}: cannot write ({exc}); check the run directory is "
                            "writable and the disk is not full") from exc


def write_findings(path: Path, result: AnalysisResult) -> None:
    write_text_atomic(path, findings_json(result))
