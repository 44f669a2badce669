"""Every hand-written dump under tests/fixtures/ui/ and the verdict a person would give it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from harness.ui.consent import detect_xml

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ui"

# name: (dialog, accept (text, id-suffix) | None, reject (text, id-suffix) | None, findings)
EXPECTED: dict[str, tuple[str, tuple[str, str] | None, tuple[str, str] | None, set[str]]] = {
    "zh_hans_buttons": ("consent", ("同意", "btn_agree"), ("不同意", "btn_disagree"), set()),
    "zh_hans_agree_link": ("consent", ("同意并继续", "tv_agree"), ("不同意", "ll_disagree"),
                           {"accept-highlighted"}),
    # 再想想 only goes back to the first layer: neither accept nor reject.
    "zh_hans_second_layer": ("consent", None, ("仍不同意并退出", "btn_exit"), set()),
    "zh_hans_second_layer_agree": ("consent", ("同意", "agree"), ("仍不同意", "disagree"),
                                   {"accept-highlighted"}),
    "zh_hant": ("consent", ("同意並繼續", "btn_accept"), ("不同意並離開", "btn_reject"), set()),
    "en_cmp": ("consent", ("Accept all", "consent_accept"), ("Decline all", "consent_decline"),
               set()),
    "de_compose": ("consent", ("Alle akzeptieren", ""), ("Ablehnen", ""),
                   {"accept-highlighted"}),
    "notice_only": ("notice", None, None, set()),
    "pre_ticked_ok": ("consent", ("我知道了", "btn_ok"), None,
                      {"pre-ticked-consent", "ambiguous-accept", "no-reject-option"}),
    "login_terms_checkbox": ("none", None, None, set()),
    "permission_dialog": ("none", None, None, set()),
    "permission_miui": ("none", None, None, set()),
    "update_prompt": ("none", None, None, set()),
    "rating_prompt": ("none", None, None, set()),
    "tos_only": ("none", None, None, set()),
    "tos_only_zh": ("none", None, None, set()),
}


def _builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_fixtures", FIXTURES / "build_fixtures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_verdict(name: str) -> None:
    path = FIXTURES / f"{name}.xml"
    dialog, accept, reject, findings = EXPECTED[name]
    detection = detect_xml(path.read_text(encoding="utf-8"), source=str(path))
    assert detection.dialog == dialog
    for control, want in ((detection.accept, accept), (detection.reject, reject)):
        if want is None:
            assert control is None
        else:
            assert control is not None
            assert control.text == want[0]
            assert control.resource_id.rsplit(":id/", 1)[-1] == want[1]
    assert set(detection.findings) == findings
    assert len(detection.findings) == len(findings)


def test_every_fixture_has_an_expectation() -> None:
    names = {p.stem for p in FIXTURES.glob("*.xml")} - {"malformed"}
    assert names == set(EXPECTED)


def test_fixture_files_match_their_builder() -> None:
    """The committed XML is what build_fixtures.py writes, so editing one means editing both."""
    builder = _builder()
    assert set(builder.FIXTURES) == set(EXPECTED)
    for name, build in builder.FIXTURES.items():
        assert (FIXTURES / f"{name}.xml").read_text(encoding="utf-8") == build(), name


def test_fixtures_carry_the_full_uiautomator_attribute_set() -> None:
    order = ["index", "text", "resource-id", "class", "package", "content-desc", "checkable",
             "checked", "clickable", "enabled", "focusable", "focused", "scrollable",
             "long-clickable", "password", "selected", "visible-to-user", "bounds"]
    line = next(line for line in (FIXTURES / "en_cmp.xml").read_text().splitlines()
                if "<node " in line)
    positions = [line.index(f' {attr}="') for attr in order]
    assert positions == sorted(positions)
