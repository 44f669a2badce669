"""``consentry diff`` through ``harness.cli.main``: the table, --json, and the exit status a
nightly job reads (0 no new finding, 1 new findings or a new run that lost evidence, 2 usage)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.cli import main
from tests.unit.analysis.test_diff import BASE, BUGLY_FRAME, bundle, read


def test_same_run_twice_exits_0(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(runs / "accept"), str(runs / "accept")]) == 0
    out = capsys.readouterr().out
    assert "findings: 0 new, 0 gone, 0 changed, 5 unchanged" in out
    assert "hosts contacted: no change" in out
    assert out.rstrip().endswith("verdict: no new finding (exit 0)")
    assert "!!" not in out


def test_new_findings_exit_1_with_a_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = bundle(tmp_path, "old", BASE)
    new = bundle(tmp_path, "new", [*BASE, (1.5, "hook.call", read(BUGLY_FRAME, "android_id",
                                                                  "9774d56d682e549c"))])
    assert main(["diff", str(old), str(new)]) == 1
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.lstrip().startswith("+ "))
    assert row.split() == ["+", "collect-before-consent", "Tencent", "Bugly", "android_id", "x1"]
    assert "findings: 1 new, 0 gone, 0 changed, 2 unchanged" in out
    assert "  + Tencent Bugly: android_id" in out
    assert "verdict: 1 NEW finding(s) (exit 1)" in out


def test_gone_findings_alone_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = bundle(tmp_path, "old", BASE)
    new = bundle(tmp_path, "new", BASE[:1])
    assert main(["diff", str(old), str(new)]) == 0
    out = capsys.readouterr().out
    assert "findings: 0 new, 1 gone, 0 changed, 1 unchanged" in out
    assert "hosts contacted: -alog.umeng.com" in out
    assert "  - alog.umeng.com: imei" in out


def test_incomplete_new_run_is_loud_and_not_a_pass(
    runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["diff", str(runs / "accept"), str(runs / "truncated")]) == 1
    out = capsys.readouterr().out
    assert "INCOMPLETE, LOST EVIDENCE" in out
    assert "!! the NEW run lost evidence (incomplete (harness killed)" in out
    assert "1 gone (unconfirmed: the new run lost evidence)" in out
    assert "  -?  send-before-consent" in out
    assert "not a pass (exit 1)" in out


def test_json_output(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(runs / "accept"), str(runs / "truncated"), "--json"]) == 1
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["exit"] == 1 and doc["schema"] == 1
    assert doc["trustworthy"] is False and doc["findings"]["gone_confirmed"] is False
    assert doc["old"]["sound"] is True and doc["new"]["status"] == "incomplete"
    assert [f["sdk"] for f in doc["findings"]["gone"]] == ["Tencent Bugly"]
    assert doc["findings"]["unchanged"] == 4
    assert doc["reads"]["gone"] == {"app": ["imei"]}
    assert "consentry: warning: the NEW run lost evidence" in captured.err


def test_different_app_is_warned_and_not_a_pass(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    old = bundle(tmp_path, "old", BASE)
    new = bundle(tmp_path, "new", BASE, app={"package": "com.other.app"})
    assert main(["diff", str(old), str(new)]) == 1  # a mis-wired nightly job must not pass
    out = capsys.readouterr().out
    assert "!! the runs are of different apps (old org.consentry.specimen, new com.other.app)" \
        in out
    assert "verdict: the runs are of different apps: nothing to compare (exit 1)" in out


def test_not_a_run_directory_is_a_usage_error(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["diff", str(runs / "accept"), str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'missing'}: not a run directory" in err
    assert "Traceback" not in err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["diff", str(empty), str(runs / "accept")]) == 2
    assert "events.jsonl: missing" in capsys.readouterr().err


def test_damaged_bundle_is_exit_2_not_1(
    runs: Path, run_copy: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["diff", str(runs / "accept"), str(run_copy("malformed"))]) == 2
    assert "events.jsonl:3: malformed event" in capsys.readouterr().err


def test_missing_argument_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["diff", "only-one"])
    assert exc.value.code == 2
    assert "NEW_RUN" in capsys.readouterr().err


def test_new_row_says_what_it_was(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = bundle(tmp_path, "old", BASE)
    umeng_android_id = read("com.umeng.commonsdk.statistics.idtracking.AndroidIdTracker.f(A.java:31)",
                            "android_id", "9774d56d682e549c")
    new = bundle(tmp_path, "new", [*BASE, (0.7, "hook.call", umeng_android_id)])
    assert main(["diff", str(old), str(new)]) == 1
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines()
               if line.lstrip().startswith("+ ") and "collect-before-consent" in line)
    assert row.split()[2:] == ["Umeng", "android_id,", "imei", "x2", "(was:", "imei)"]
