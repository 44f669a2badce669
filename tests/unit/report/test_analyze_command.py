from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.cli import main


def test_analyze_writes_outputs_and_prints_summary(
    run_copy: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = run_copy("never")
    assert main(["analyze", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "consent: never" in out
    assert "AMap -> restsdk.amap.com: location x1" in out
    assert (run_dir / "report.html").is_file()
    doc = json.loads((run_dir / "findings.json").read_text(encoding="utf-8"))
    assert [f["rule"] for f in doc["findings"]].count("collect-before-consent") == 3


def test_analyze_json_prints_the_findings_document(
    run_copy: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = run_copy("accept")
    assert main(["analyze", str(run_dir), "--json"]) == 0
    printed = capsys.readouterr().out
    assert printed == (run_dir / "findings.json").read_text(encoding="utf-8")
    assert json.loads(printed)["consent"]["state"] == "accepted"


def test_missing_run_dir_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["analyze", str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'missing'}: not a run directory" in err
    assert "Traceback" not in err


def test_malformed_bundle_names_the_line(
    run_copy: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = run_copy("malformed")
    assert main(["analyze", str(run_dir)]) == 1
    assert "events.jsonl:3: malformed event" in capsys.readouterr().err
    assert not (run_dir / "findings.json").exists()
