"""``consentry ui detect`` through ``harness.cli.main``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.cli import main

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ui"


def test_detect_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ui", "detect", str(FIXTURES / "zh_hans_agree_link.xml"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {
        "dialog": "consent",
        "accept": {"text": "同意并继续", "resource_id": "com.example.shop:id/tv_agree",
                   "bounds": [150, 1510, 930, 1640]},
        "reject": {"text": "不同意", "resource_id": "com.example.shop:id/ll_disagree",
                   "bounds": [440, 1660, 640, 1740]},
        "findings": ["accept-highlighted"],
    }


def test_detect_json_for_a_hard_negative(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ui", "detect", str(FIXTURES / "permission_dialog.xml"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"dialog": "none", "accept": None,
                                                   "reject": None, "findings": []}


def test_detect_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ui", "detect", str(FIXTURES / "pre_ticked_ok.xml")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "dialog:   consent"
    assert "accept:   '我知道了' [com.example.game:id/btn_ok] at (540, 1660)" in out
    assert "reject:   -" in out
    for finding in ("no-reject-option", "pre-ticked-consent", "ambiguous-accept"):
        assert f"finding:  {finding} (" in out


def test_summary_of_a_notice(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ui", "detect", str(FIXTURES / "notice_only.xml")]) == 0
    assert capsys.readouterr().out == "dialog:   notice\n"


def test_malformed_dump_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    path = FIXTURES / "malformed.xml"
    assert main(["ui", "detect", str(path), "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"consentry: error: {path}:4:")
    assert "dump_hierarchy()" in captured.err
    assert "Traceback" not in captured.err


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: d / "absent.xml", "no such file"),
    (lambda d: d, "is a directory"),
])
def test_unreadable_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                          make: Callable[[Path], Path], message: str) -> None:
    path = make(tmp_path)
    assert main(["ui", "detect", str(path)]) == 1
    assert message in capsys.readouterr().err


def test_binary_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "screen.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    assert main(["ui", "detect", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"consentry: error: {path}: not UTF-8 text")


def test_ui_without_action_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ui"]) == 2
    assert "detect" in capsys.readouterr().out
