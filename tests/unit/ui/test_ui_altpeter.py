"""Table-driven checks against real consent dialogs, cookie notices and policy links listed in
B. Altpeter's thesis data (../shared/data/consent-dialogs-altpeter/indicators.md, MIT).

The hierarchies are built here from the listed texts and ids; which of an app's texts are its
buttons, and what each button does, is stated below as expectations.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ui_dumps import V, button, decor, dialog, dump

from harness.ui.consent import detect_xml
from harness.ui.keywords import default_keywords

pytestmark = pytest.mark.shared_data

# app: (its button texts in the thesis, expected accept text, expected reject text)
DIALOGS: dict[str, tuple[list[str], str | None, str | None]] = {
    "eBay": (["Decline all", "Accept all", "Customize your choices"], "Accept all", "Decline all"),
    "WetterOnline": (["Accept & close", "ACCEPT"], "Accept & close", None),
    "GlitterLiveWallpaper": (["Agree", "No, thank you"], "Agree", "No, thank you"),
    "Futbin": (["AGREE"], "AGREE", None),
    "VideoInvitationMaker": (["Continue"], "Continue", None),
    "Fressnapf": (["Cookie-Einstellungen", "Alle akzeptieren"], "Alle akzeptieren", None),
    "Foraum": (["SETTINGS", "ACCEPT ALL"], "ACCEPT ALL", None),
    "Flightradar": (["CONTINUE"], "CONTINUE", None),
    "Esso": (["Accept All", "SETTINGS"], "Accept All", None),
    "SecureVpn": (["Accept", "Exit"], "Accept", "Exit"),
    "Eurosport": (["I Accept", "More Choices"], "I Accept", None),
    "Enbw": (["Accept All", "Settings"], "Accept All", None),
    "Easybrain": (["ACCEPT"], "ACCEPT", None),
    "DoodleMaster": (["Accept and continue"], "Accept and continue", None),
    "Brave": (["Continue"], "Continue", None),
    "Bose": (["I AGREE"], "I AGREE", None),
    "kaufda": (["Zustimmen", "Einstellungen oder ablehnen"], "Zustimmen",
               "Einstellungen oder ablehnen"),
    "BauerLecker": (["Akzeptieren & Schließen"], "Akzeptieren & Schließen", None),
    # Only prose is listed for these two: privacy text with no control is a notice.
    "eBay KA": ([], None, None),
    "Evermatch": ([], None, None),
}
AMBIGUOUS = {"Continue", "CONTINUE"}

# Roles of the listed resource-ids, by their name after ":id/".
ID_ROLES = {
    "consent_accept": "accept", "gdpr_consent_accept": "accept", "yesConsent": "accept",
    "btn_accept": "accept", "button_accept_all": "accept", "btn_accept_cookies": "accept",
    "mob_button_accept": "accept", "agreeButton": "accept",
    "btnContinue": "ambiguous", "gdpr_continue": "ambiguous",
    "consent_decline": "reject", "noConsent": "reject", "btn_reject": "reject",
    "manage_settings": "neither", "gdpr_consent_more_info": "neither",
    "show_vendors_list": "neither", "cookies_setting": "neither", "gdpr_personalize": "neither",
    "text_manage_options": "neither",
}


def _sections(shared_data: Path) -> dict[str, list[tuple[str, str]]]:
    path = shared_data / "consent-dialogs-altpeter" / "indicators.md"
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    sections: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            sections[current] = []
        elif line.strip() and current:
            value, _, app = line.rpartition("|") if "|" in line else (line, "", "")
            sections[current].append((value.strip(), app.strip()))
    return sections


def _texts_of(shared_data: Path, app: str) -> list[str]:
    texts = [v for v, a in _sections(shared_data).get("Consent dialog (text)", []) if a == app]
    if not texts:
        pytest.skip(f"{app} is not listed in this copy of indicators.md")
    return texts


@pytest.mark.parametrize("app", sorted(DIALOGS))
def test_real_consent_dialog_texts(shared_data: Path, app: str) -> None:
    buttons, accept, reject = DIALOGS[app]
    texts = _texts_of(shared_data, app)
    missing = [b for b in buttons if b not in texts]
    if missing:
        pytest.skip(f"{app}: {missing} not in this copy of indicators.md")
    width = 840 // max(1, len(buttons))
    views = [button(t, (120 + i * width, 1580, 120 + (i + 1) * width - 20, 1740))
             for i, t in enumerate(buttons)]
    body = [t for t in texts if t not in buttons]
    detection = detect_xml(dump(("com.example", decor(dialog("com.example", "", body, views)))))
    assert detection.dialog == ("consent" if buttons else "notice")
    assert (detection.accept.text if detection.accept else None) == accept
    assert (detection.reject.text if detection.reject else None) == reject
    assert ("ambiguous-accept" in detection.findings) == (accept in AMBIGUOUS)
    assert ("no-reject-option" in detection.findings) == (accept is not None and reject is None)


def _notices(shared_data: Path) -> list[str]:
    notices = [v for v, _ in _sections(shared_data).get("Cookie notice (text)", [])]
    assert notices, "indicators.md has no cookie-notice texts"
    return notices


def _screen(*views: V) -> str:
    return dump(("com.example", decor(V("LinearLayout", (0, 96, 1080, 2400),
                                        children=list(views)))))


def test_real_notices_without_controls_are_notices(shared_data: Path) -> None:
    for text in _notices(shared_data):
        xml = _screen(V("TextView", (60, 1900, 1020, 2200), text=text))
        assert detect_xml(xml).dialog == "notice", text


def test_real_notices_under_a_login_button_are_not_consent(shared_data: Path) -> None:
    """The thesis' notices are mostly the small print of sign-up screens: a hard negative."""
    for text in _notices(shared_data):
        xml = _screen(V("EditText", (60, 600, 1020, 740), text="Email", clickable=True),
                      button("Log In", (60, 1700, 1020, 1840)),
                      V("TextView", (60, 1900, 1020, 2200), text=text))
        assert detect_xml(xml).dialog == "none", text


def test_real_policy_links_alone_are_nothing(shared_data: Path) -> None:
    links = [v for v, _ in _sections(shared_data).get("Privacy policy link (text)", [])]
    assert links
    for text in links:
        xml = _screen(V("TextView", (60, 2200, 1020, 2280), text=text, clickable=True))
        assert detect_xml(xml).dialog == "none", text


def test_real_resource_ids_classify_by_name(shared_data: Path) -> None:
    ids = [v for v, _ in _sections(shared_data).get("Consent dialog (resource-id)", [])]
    known = [i for i in ids if i.rsplit(":id/", 1)[-1] in ID_ROLES]
    assert len(known) >= 15, "fewer known ids than expected; has indicators.md changed?"
    keywords = default_keywords()
    for resource_id in known:
        assert keywords.classify_id(resource_id) == ID_ROLES[resource_id.rsplit(":id/", 1)[-1]], \
            resource_id


@pytest.mark.parametrize("app", ["eBay", "GlitterLiveWallpaper", "SecureVpn"])
def test_real_ids_on_label_less_buttons(shared_data: Path, app: str) -> None:
    ids = [v for v, a in _sections(shared_data).get("Consent dialog (resource-id)", [])
           if a == app and v.rsplit(":id/", 1)[-1] in ID_ROLES]
    if not ids:
        pytest.skip(f"{app} has no ids in this copy of indicators.md")
    package = ids[0].split(":id/")[0]
    width = 840 // len(ids)
    views = [V("ImageButton", (120 + i * width, 1580, 120 + (i + 1) * width - 20, 1740),
               rid=rid, clickable=True) for i, rid in enumerate(ids)]
    body = [t for t in _texts_of(shared_data, app) if len(t) > 40]
    detection = detect_xml(dump((package, decor(dialog(package, "", body, views)))))
    roles = {rid: ID_ROLES[rid.rsplit(":id/", 1)[-1]] for rid in ids}
    assert detection.accept is not None and roles[detection.accept.resource_id] == "accept"
    assert detection.reject is not None and roles[detection.reject.resource_id] == "reject"
