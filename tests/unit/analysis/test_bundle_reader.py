from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.bundle import load_bundle
from harness.errors import EvidenceError


def test_complete_bundle_reads_every_event(runs: Path) -> None:
    bundle = load_bundle(runs / "accept")
    assert [e.seq for e in bundle.events] == list(range(1, 13))
    assert bundle.status == "complete"
    assert bundle.app_package == "org.consentry.specimen"
    assert bundle.t_start == 1764410400.0
    assert bundle.warnings == []


def test_partial_last_line_is_skipped_with_a_warning(runs: Path) -> None:
    bundle = load_bundle(runs / "truncated")
    assert [e.seq for e in bundle.events] == [1, 2, 3, 4, 5, 6]
    assert bundle.truncated
    assert bundle.status == "incomplete"
    assert len(bundle.warnings) == 1
    assert "events.jsonl:7" in bundle.warnings[0]


def test_malformed_middle_line_names_file_and_line(runs: Path) -> None:
    with pytest.raises(EvidenceError, match=r"malformed[/\\]events\.jsonl:3: malformed event"):
        load_bundle(runs / "malformed")


def test_partial_last_line_followed_by_newline_is_an_error(tmp_path: Path) -> None:
    # a complete-looking line (ends with newline) that does not parse was not cut by a crash
    (tmp_path / "events.jsonl").write_text('{"seq":1,"t":1.0,"type":"a.b"}\n{"seq":2,\n')
    with pytest.raises(EvidenceError, match=r"events\.jsonl:2"):
        load_bundle(tmp_path)


def test_missing_directory_is_an_evidence_error(tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match="not a run directory"):
        load_bundle(tmp_path / "nope")


def test_missing_event_log_is_an_evidence_error(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(EvidenceError, match=r"events\.jsonl: missing"):
        load_bundle(tmp_path)


def test_damaged_manifest_is_an_evidence_error(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{not json")
    (tmp_path / "events.jsonl").write_text("")
    with pytest.raises(EvidenceError, match=r"manifest\.json: not valid JSON"):
        load_bundle(tmp_path)


def test_missing_manifest_falls_back_to_first_event_time(tmp_path: Path) -> None:
    line = {"seq": 1, "t": 50.0, "type": "session.start", "source": "host", "data": {}}
    (tmp_path / "events.jsonl").write_text(json.dumps(line) + "\n")
    bundle = load_bundle(tmp_path)
    assert bundle.t_start == 50.0
    assert bundle.status == "incomplete"
    assert bundle.warnings[0].startswith("missing-manifest:")


def test_event_missing_type_is_malformed(tmp_path: Path) -> None:
    (tmp_path / "events.jsonl").write_text('{"seq":1,"t":1.0}\n{"seq":2,"t":2.0,"type":"x.y"}\n')
    with pytest.raises(EvidenceError, match=r"events\.jsonl:1: malformed event"):
        load_bundle(tmp_path)
