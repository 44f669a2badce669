"""``detect`` on hierarchies built in the test: layers, windows, wrappers, label-less buttons."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ui_dumps import SCREEN, V, button, consent_screen, decor, dialog, dump

from harness.errors import InputError
from harness.ui.consent import FINDINGS, Control, Detection, detect, detect_xml
from harness.ui.hierarchy import parse_hierarchy
from harness.ui.keywords import default_keywords

PKG = "com.example.app"
BODY = ["We use cookies and process personal data such as your advertising ID for personalised "
        "ads. You can withdraw your consent at any time."]


def test_control_center_and_json() -> None:
    control = Control(text="同意", resource_id=f"{PKG}:id/btn_agree", bounds=(540, 1580, 940, 1740))
    assert control.center == (740, 1660)
    assert control.to_json() == {"text": "同意", "resource_id": f"{PKG}:id/btn_agree",
                                 "bounds": [540, 1580, 940, 1740]}


def test_detection_json_shape() -> None:
    accept = Control("Accept", "", (0, 0, 10, 10))
    assert Detection("consent", accept, None, ["no-reject-option"]).to_json() == {
        "dialog": "consent",
        "accept": {"text": "Accept", "resource_id": "", "bounds": [0, 0, 10, 10]},
        "reject": None, "findings": ["no-reject-option"]}
    assert Detection("none").to_json() == {"dialog": "none", "accept": None, "reject": None,
                                           "findings": []}
    assert set(FINDINGS) == {"no-reject-option", "pre-ticked-consent", "ambiguous-accept",
                             "accept-highlighted"}


def test_malformed_xml_is_an_input_error_naming_the_source() -> None:
    with pytest.raises(InputError, match=r"dump\.xml:1:\d+: not well-formed"):
        detect_xml("<hierarchy><node></hierarchy>", source="dump.xml")


def test_empty_screen_is_none() -> None:
    assert detect_xml(dump((PKG, decor()))).dialog == "none"


def test_privacy_link_alone_is_not_a_notice() -> None:
    """A settings row or a "Privacy Policy" link is not privacy prose."""
    screen = decor(V("LinearLayout", (0, 96, 1080, 800), children=[
        V("TextView", (40, 200, 1040, 300), text="隐私政策", clickable=True),
        V("TextView", (40, 320, 1040, 420), text="Privacy Policy", clickable=True),
        V("TextView", (40, 440, 1040, 540), text="《用户协议与隐私政策》", clickable=True),
    ]))
    assert detect_xml(dump((PKG, screen))).dialog == "none"


def test_reject_in_another_dialog_does_not_count() -> None:
    """Two dialogs side by side in one window: the top one (drawn last) decides, and its
    missing reject is not made up by the refusal of the one underneath."""
    under = dialog(PKG, "Privacy", BODY, [button("Decline", (120, 1580, 520, 1740)),
                                          button("Accept", (540, 1580, 940, 1740))])
    top = dialog(PKG, "Ads", ["Allow the use of your personal data for tracking by partners?"],
                 [button("Agree", (150, 1580, 930, 1740), f"{PKG}:id/btn_agree_top")],
                 top=700, bottom=1800)
    detection = detect_xml(dump((PKG, decor(under, top))))
    assert detection.accept is not None and detection.accept.text == "Agree"
    assert detection.reject is None
    assert detection.findings == ["no-reject-option"]


def test_dialog_in_its_own_window_wins_over_the_activity() -> None:
    activity = decor(V("TextView", (40, 200, 1040, 400),
                       text="Read our privacy policy to learn how we use personal data."),
                     button("OK", (40, 420, 400, 520)))
    popup = V("FrameLayout", (90, 620, 990, 1780), children=[
        dialog(PKG, "隐私政策", ["请阅读并同意《隐私政策》，我们将收集您的设备信息用于统计分析。"],
               [button("不同意", (120, 1580, 520, 1740)), button("同意", (540, 1580, 940, 1740))])])
    detection = detect_xml(dump((PKG, activity), (PKG, popup)))
    assert detection.dialog == "consent"
    assert detection.accept is not None and detection.accept.text == "同意"
    assert detection.reject is not None and detection.reject.text == "不同意"


def test_clickable_dialog_root_is_not_a_button_wrapper() -> None:
    """Dialog roots are often clickable to swallow touches; a plain 同意 TextView inside is
    text, not the root's label, so the screen offers no accept control."""
    root = V("FrameLayout", (90, 620, 990, 1780), clickable=True, children=[
        V("TextView", (120, 700, 960, 1200), text=BODY[0]),
        V("TextView", (120, 1300, 960, 1400), text="同意"),
    ])
    assert detect_xml(dump((PKG, decor(root)))).dialog == "notice"


def test_label_less_icon_buttons_are_read_from_their_ids() -> None:
    pkg = "com.galaxy.glitter.live.wallpaper"
    buttons = [V("ImageButton", (120, 1580, 520, 1740), rid=f"{pkg}:id/noConsent", clickable=True),
               V("ImageButton", (540, 1580, 940, 1740), rid=f"{pkg}:id/yesConsent", clickable=True)]
    detection = detect_xml(dump((pkg, decor(dialog(pkg, "GDPR", BODY, buttons)))))
    assert detection.accept is not None and detection.accept.resource_id.endswith("yesConsent")
    assert detection.reject is not None and detection.reject.resource_id.endswith("noConsent")
    assert detection.accept.text == ""


def test_clear_accept_preferred_over_acknowledge_label() -> None:
    xml = consent_screen(PKG, BODY, [("OK", ""), ("Accept all", f"{PKG}:id/accept"),
                                     ("Reject all", f"{PKG}:id/reject")])
    detection = detect_xml(xml)
    assert detection.accept is not None and detection.accept.text == "Accept all"
    assert "ambiguous-accept" not in detection.findings


def test_neither_controls_are_never_accept_or_reject() -> None:
    xml = consent_screen(PKG, BODY, [("Manage options", ""), ("Learn more", ""),
                                     ("Settings", "")])
    assert detect_xml(xml) == Detection("notice")


def test_unticked_checkbox_is_not_a_finding() -> None:
    row = V("LinearLayout", (120, 1460, 960, 1540), children=[
        V("CheckBox", (120, 1460, 960, 1540), text="I agree to the processing of personal data",
          clickable=True, checkable=True, checked=False)])
    root = dialog(PKG, "Privacy", BODY, [button("Accept", (150, 1580, 510, 1740)),
                                         button("Decline", (570, 1580, 930, 1740))])
    root.children[0].children.insert(2, row)
    assert detect_xml(dump((PKG, decor(root)))).findings == []
    row.children[0].checked = True
    assert detect_xml(dump((PKG, decor(root)))).findings == ["pre-ticked-consent"]


def test_highlight_threshold_is_one_and_a_half() -> None:
    def screen(accept_width: int) -> Detection:
        return detect_xml(dump((PKG, decor(dialog(PKG, "Privacy", BODY, [
            button("Decline", (120, 1580, 320, 1740)),
            button("Accept", (400, 1580, 400 + accept_width, 1740))])))))
    assert "accept-highlighted" in screen(300).findings     # 1.5 x 200
    assert "accept-highlighted" not in screen(299).findings


def test_webview_button_and_text_count() -> None:
    web = V("android.webkit.WebView", SCREEN, scrollable=True, children=[
        V("android.view.View", SCREEN, children=[
            V("android.view.View", (60, 300, 1020, 900), text=BODY[0]),
            V("android.widget.Button", (60, 1000, 1020, 1120), text="Accept all cookies",
              clickable=True),
            V("android.widget.Button", (60, 1140, 1020, 1260), text="Reject all",
              clickable=True),
        ])])
    detection = detect_xml(dump((PKG, decor(web))))
    assert detection.dialog == "consent"
    assert detection.accept is not None and detection.accept.text == "Accept all cookies"
    assert detection.reject is not None and detection.reject.text == "Reject all"


def test_detect_takes_a_parsed_hierarchy() -> None:
    xml = consent_screen(PKG, BODY, [("Decline", ""), ("Accept", "")])
    assert detect(parse_hierarchy(xml)) == detect_xml(xml)


_WORDS = ["同意", "不同意", "我知道了", "Accept all", "Decline", "Settings", "OK", "隐私政策",
          "《隐私政策》", "Ablehnen", "登录", "",
          "我们会收集您的个人信息（设备标识符）用于统计分析，请阅读《隐私政策》。",
          "We and our partners use cookies to process personal data for ads."]


@st.composite
def _views(draw: st.DrawFn, depth: int = 0) -> V:
    x1 = draw(st.integers(0, 1000))
    y1 = draw(st.integers(0, 2300))
    bounds = (x1, y1, x1 + draw(st.integers(0, 80)), y1 + draw(st.integers(0, 100)))
    children = draw(st.lists(_views(depth + 1), max_size=3)) if depth < 3 else []
    return V(draw(st.sampled_from(["TextView", "Button", "LinearLayout", "CheckBox",
                                   "android.view.View"])), bounds,
             text=draw(st.sampled_from(_WORDS)), clickable=draw(st.booleans()),
             checkable=draw(st.booleans()), checked=draw(st.booleans()), children=children)


@settings(max_examples=60, deadline=None)
@given(_views())
def test_any_tree_gives_a_consistent_verdict(root: V) -> None:
    xml = dump((PKG, root))
    detection = detect_xml(xml)
    labels = {n.label.strip() for n in parse_hierarchy(xml).nodes()}
    assert detection.dialog in ("consent", "notice", "none")
    assert set(detection.findings) <= set(FINDINGS)
    if detection.dialog != "consent":
        assert detection.accept is None and detection.reject is None and not detection.findings
    else:
        assert detection.accept is not None or detection.reject is not None
    for control in (detection.accept, detection.reject):
        assert control is None or control.text in labels
    if detection.accept is not None:
        assert default_keywords().classify(detection.accept.text) in ("accept", "ambiguous")
    if detection.reject is not None:
        assert default_keywords().classify(detection.reject.text) == "reject"
