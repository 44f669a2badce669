"""Runtime-permission dialogs: recognised by AOSP ids or by vendor package plus labels."""

from __future__ import annotations

from pathlib import Path

from ui_dumps import V, dump

from harness.ui.consent import is_permission_dialog
from harness.ui.hierarchy import parse_hierarchy

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ui"


def _load(name: str) -> str:
    return (FIXTURES / f"{name}.xml").read_text(encoding="utf-8")


def test_google_permission_controller() -> None:
    prompt = is_permission_dialog(parse_hierarchy(_load("permission_dialog")))
    assert prompt is not None
    assert prompt.package == "com.google.android.permissioncontroller"
    assert prompt.message == "Allow 晨视频 to access this device's location?"
    assert prompt.allow is not None and prompt.allow.text == "While using the app"
    assert prompt.allow.resource_id.endswith("permission_allow_foreground_only_button")
    assert prompt.allow.center == (540, 1770)
    assert prompt.deny is not None and prompt.deny.resource_id.endswith("permission_deny_button")


def test_miui_prompt_by_package_and_labels() -> None:
    prompt = is_permission_dialog(parse_hierarchy(_load("permission_miui")))
    assert prompt is not None and prompt.package == "com.lbe.security.miui"
    assert prompt.allow is not None and prompt.allow.text == "仅在使用中允许"
    assert prompt.deny is not None and prompt.deny.text == "拒绝"


def test_aosp_ids_are_recognised_in_any_package() -> None:
    """Vendor controllers copy the AOSP ids under their own package name."""
    pkg = "com.oplus.safecenter"
    root = V("FrameLayout", (0, 1500, 1080, 2400), children=[
        V("Button", (80, 1760, 1000, 1900), text="Allow", clickable=True,
          rid=f"{pkg}:id/permission_allow_button"),
        V("Button", (80, 1920, 1000, 2060), text="Deny", clickable=True,
          rid=f"{pkg}:id/permission_deny_button")])
    prompt = is_permission_dialog(parse_hierarchy(dump((pkg, root))))
    assert prompt is not None and prompt.allow is not None and prompt.deny is not None
    assert (prompt.allow.text, prompt.deny.text) == ("Allow", "Deny")


def test_app_dialogs_with_allow_labels_are_not_permission_dialogs() -> None:
    """An app's own "允许" / "拒绝" buttons are not the system's permission dialog."""
    pkg = "com.example.app"
    root = V("FrameLayout", (0, 1500, 1080, 2400), children=[
        V("Button", (80, 1760, 1000, 1900), text="允许", clickable=True, rid=f"{pkg}:id/ok"),
        V("Button", (80, 1920, 1000, 2060), text="拒绝", clickable=True, rid=f"{pkg}:id/no")])
    assert is_permission_dialog(parse_hierarchy(dump((pkg, root)))) is None
    for name in ("zh_hans_buttons", "en_cmp", "login_terms_checkbox"):
        assert is_permission_dialog(parse_hierarchy(_load(name))) is None
