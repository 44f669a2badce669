"""The keyword table and label matching: languages, word boundaries, negators, length limit."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from harness.errors import InputError
from harness.resources import data_dir
from harness.ui.keywords import default_keywords, load_keywords, normalize, parse_keywords

KW = default_keywords()
TABLE = data_dir() / "consent_keywords.yaml"


@pytest.mark.parametrize(("label", "kind"), [
    # Chinese, simplified
    ("同意", "accept"), ("同意并继续", "accept"), (" 同意并进入应用 ", "accept"),
    ("不同意", "reject"), ("暂不同意", "reject"), ("不同意并退出", "reject"),
    ("仍不同意", "reject"), ("退出应用", "reject"), ("拒绝", "reject"), ("仅浏览", "reject"),
    ("我知道了", "ambiguous"), ("好的", "ambiguous"), ("确定", "ambiguous"),
    ("查看详情", "neither"), ("《隐私政策》", "neither"), ("《用户协议》", "neither"),
    ("再想想", "neither"),
    # Chinese, traditional
    ("同意並繼續", "accept"), ("不同意並離開", "reject"), ("拒絕", "reject"),
    ("確定", "ambiguous"),
    # English
    ("Accept all", "accept"), ("ACCEPT", "accept"), ("I Accept", "accept"),
    ("Accept & close", "accept"), ("I AGREE", "accept"), ("Agree", "accept"),
    ("Decline all", "reject"), ("No, thank you", "reject"), ("I do not agree", "reject"),
    ("I don't accept", "reject"), ("Don't allow", "reject"), ("Disagree", "reject"),
    ("Continue without accepting", "reject"),
    ("OK", "ambiguous"), ("Got it", "ambiguous"), ("Continue", "ambiguous"),
    ("Manage options", "neither"), ("Settings", "neither"), ("Learn more", "neither"),
    ("Customize your choices", "neither"), ("More Choices", "neither"),
    # German
    ("Alle akzeptieren", "accept"), ("Zustimmen", "accept"), ("Akzeptieren & Schließen", "accept"),
    ("Ablehnen", "reject"), ("Nicht zustimmen", "reject"), ("Alle ablehnen", "reject"),
    ("Einstellungen oder ablehnen", "reject"),
    ("Einstellungen", "neither"), ("Cookie-Einstellungen", "neither"),
    ("Weiter", "ambiguous"),
])
def test_classify_label(label: str, kind: str) -> None:
    assert KW.classify(label) == kind


@pytest.mark.parametrize("label", [
    "Notice",            # "no" only on a word boundary
    "Goodbook",          # "ok" inside a word
    "Nothing to see",
    "Okapi facts",
    "Acceptance criteria of the product catalogue",
    "我已阅读并同意《用户协议》和《隐私政策》",  # a sentence, not a button
    "I have read and agree to the Terms of Service and the Privacy Policy",
    "",
    "首页",
])
def test_labels_that_are_not_consent_buttons(label: str) -> None:
    assert KW.classify(label) not in ("accept", "ambiguous", "reject")


def test_normalize_folds_case_width_and_spaces() -> None:
    assert normalize("  ＡＣＣＥＰＴ\u3000 ALL ") == "accept all"
    assert normalize("Don’t allow") == "don't allow"


@pytest.mark.parametrize(("resource_id", "kind"), [
    ("com.galaxy.glitter.live.wallpaper:id/yesConsent", "accept"),
    ("com.galaxy.glitter.live.wallpaper:id/noConsent", "reject"),
    ("com.ebay.mobile:id/consent_accept", "accept"),
    ("com.ebay.mobile:id/manage_settings", "neither"),
    ("com.eurosport:id/btn_accept_cookies", "accept"),
    ("com.bonial.kaufda:id/gdpr_continue", "ambiguous"),
    ("com.example:id/iv_logo", None),
])
def test_classify_id_for_label_less_controls(resource_id: str, kind: str | None) -> None:
    assert KW.classify_id(resource_id) == kind


_CJK_ACCEPT = [w for w in KW.accept.words if "\u4e00" <= w[0] <= "\u9fff"]
_LATIN_ACCEPT = [w for w in KW.accept.words if w.isascii() and w.split()[0] not in ("i",)]


@given(st.sampled_from(_CJK_ACCEPT), st.sampled_from(["不", "暂不", "暫不"]))
def test_negated_chinese_accept_is_reject(word: str, negator: str) -> None:
    assert KW.classify(negator + word) == "reject"


@given(st.sampled_from(_LATIN_ACCEPT), st.sampled_from(["I do not", "Do not", "Don't", "Never"]))
def test_negated_english_accept_is_never_accept(word: str, negator: str) -> None:
    assert KW.classify(f"{negator} {word}") not in ("accept", "ambiguous")


@given(st.sampled_from(sorted(KW.accept.words)))
def test_every_accept_keyword_alone_is_accept(word: str) -> None:
    # Guards the table: an accept keyword must not also contain a listed refusal.
    assert KW.classify(word) == "accept"


def test_default_table_has_every_language() -> None:
    for word in ("同意", "同意並繼續", "accept all", "alle akzeptieren"):
        assert word in KW.accept.words
    for word in ("不同意", "拒絕", "decline all", "ablehnen"):
        assert word in KW.reject.words
    assert "com.google.android.permissioncontroller" in KW.permission.packages


def _table_without(key: str) -> str:
    raw = yaml.safe_load(TABLE.read_text(encoding="utf-8"))
    del raw[key]
    return yaml.safe_dump(raw, allow_unicode=True)


def test_missing_key_names_file_and_key() -> None:
    with pytest.raises(InputError, match=r"kw\.yaml: missing key\(s\) reject"):
        parse_keywords(_table_without("reject"), "kw.yaml")


def test_bad_list_names_the_key() -> None:
    raw = yaml.safe_load(TABLE.read_text(encoding="utf-8"))
    raw["accept"] = ["agree", 3]
    with pytest.raises(InputError, match=r"kw\.yaml: accept must be a list of non-empty"):
        parse_keywords(yaml.safe_dump(raw), "kw.yaml")


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "kw.yaml"
    path.write_text("version: 1\naccept: [agree\nreject: []\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"kw\.yaml:\d+: not valid YAML"):
        load_keywords(path)


def test_unreadable_table_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the consent keyword table"):
        load_keywords(tmp_path / "absent.yaml")


def test_a_table_can_be_extended(tmp_path: Path) -> None:
    raw = yaml.safe_load(TABLE.read_text(encoding="utf-8"))
    raw["accept"].append("j'accepte")
    raw["reject"].append("refuser")
    path = tmp_path / "kw.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    extended = load_keywords(path)
    assert extended.classify("J'accepte") == "accept"
    assert extended.classify("Refuser") == "reject"
    assert KW.classify("Refuser") is None
