"""Is this screen a consent dialog, and which controls accept and refuse?

``detect`` works on one window hierarchy, offline:

1. A runtime-permission dialog is never a consent dialog.
2. The screen must carry privacy *prose*: a text that mentions personal-information processing
   (隐私政策, personal data, cookies, Datenschutz ...) and is longer than a bare link label, so a
   settings row "隐私政策" or a "Privacy Policy" link does not count. Text inside WebViews and
   scroll views is ordinary nodes and counts the same.
3. Controls are labelled accept / ambiguous accept / reject / neither (``keywords.py``). Each is
   anchored to its nearest privacy prose; the topmost such layer is the dialog, and accept and
   reject are taken from that layer only ("same layer" for ``no-reject-option``).
4. Screens whose action is login, sign-up, update or rating, without a clear accept, are not
   consent dialogs even when they mention the privacy policy (terms checkbox under a login form).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from harness.ui.hierarchy import Hierarchy, Node, parse_hierarchy
from harness.ui.keywords import Keywords, default_keywords, is_cjk, normalize
from harness.ui.permission import PermissionPrompt, is_permission_dialog
from harness.ui.tappable import Candidate, Control, Tree, find_candidates, other_action_controls

__all__ = ["FINDINGS", "Control", "Detection", "PermissionPrompt", "detect", "detect_xml",
           "is_permission_dialog"]

DialogKind = Literal["consent", "notice", "none"]

#: Every finding ``detect`` can report, with what it means.
FINDINGS = {
    "no-reject-option": "consent dialog without a reject control on the same layer",
    "pre-ticked-consent": "a consent checkbox is already checked",
    "ambiguous-accept": "the only accept is an acknowledge label (我知道了, OK, Got it)",
    "accept-highlighted": "accept's area is at least 1.5 times reject's",
}
#: Accept at least this many times the reject's area counts as highlighted (Altpeter / P8).
HIGHLIGHT_RATIO = 1.5
#: Extra characters beyond the privacy term that make a text prose rather than a link label.
_PROSE_EXTRA_CJK = 6
_PROSE_EXTRA_LATIN = 10
_PROSE_MIN_WORDS = 5


@dataclass(frozen=True)
class Detection:
    """What one screen shows, in the form ``consentry ui detect --json`` prints."""

    dialog: DialogKind
    accept: Control | None = None
    reject: Control | None = None
    findings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "dialog": self.dialog,
            "accept": self.accept.to_json() if self.accept else None,
            "reject": self.reject.to_json() if self.reject else None,
            "findings": list(self.findings),
        }


def is_privacy_prose(node: Node, keywords: Keywords) -> bool:
    text = normalize(node.label)
    match = keywords.privacy_terms.search(text)
    if match is None or text.startswith(("《", "「")):
        return False
    if is_cjk(match.group()):
        return len(text) >= len(match.group()) + _PROSE_EXTRA_CJK
    # "data protection information" is a link label; a sentence has a few more words.
    return (len(text) >= len(match.group()) + _PROSE_EXTRA_LATIN
            and len(text.split()) >= _PROSE_MIN_WORDS)


def _common(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    size = 0
    while size < min(len(a), len(b)) and a[size] == b[size]:
        size += 1
    return a[:size]


def _anchor(candidate: Candidate, prose: list[Node]) -> tuple[int, ...]:
    """The deepest view holding both the control and some privacy prose: its dialog."""
    path = candidate.target.index_path
    return max((_common(path, p.index_path) for p in prose), key=len)


def _inside(path: tuple[int, ...], layer: tuple[int, ...]) -> bool:
    return path[: len(layer)] == layer


def _top_layer(anchors: list[tuple[int, ...]]) -> tuple[int, ...]:
    """Of the outermost anchors (a reject link nested beside the text belongs to the dialog
    around it), the one drawn last, i.e. on top."""
    outer = [a for a in anchors if not any(b != a and _inside(a, b) for b in anchors)]
    return max(outer)


def _pre_ticked(tree: Tree, layer: tuple[int, ...], keywords: Keywords) -> bool:
    for node in tree.hierarchy.nodes():
        if not (node.checkable and node.checked and _inside(node.index_path, layer)):
            continue
        around = tree.parent(node) or node  # the checkbox's own label or the text beside it
        context = " ".join(n.label for n in around.walk())
        if keywords.privacy_terms.search(context) or keywords.accept.search(context):
            return True
    return False


def detect(hierarchy: Hierarchy, keywords: Keywords | None = None) -> Detection:
    """Classify one screen as a consent dialog, a privacy notice or neither."""
    words = keywords or default_keywords()
    if is_permission_dialog(hierarchy, words) is not None:
        return Detection("none")
    prose = [n for n in hierarchy.nodes() if is_privacy_prose(n, words)]
    if not prose:
        return Detection("none")
    tree = Tree(hierarchy)
    deciding = [c for c in find_candidates(tree, words)
                if c.kind in ("accept", "ambiguous", "reject")]
    if not deciding:
        kind: DialogKind = "none" if other_action_controls(tree, words) else "notice"
        return Detection(kind)
    layer = _top_layer([_anchor(c, prose) for c in deciding])
    on_layer = [c for c in deciding if _inside(c.target.index_path, layer)]
    accept = next((c for c in on_layer if c.kind == "accept"), None) or next(
        (c for c in on_layer if c.kind == "ambiguous"), None)
    reject = next((c for c in on_layer if c.kind == "reject"), None)
    if (accept is None or accept.kind == "ambiguous") and other_action_controls(tree, words):
        return Detection("none")  # login / update / rating screen that mentions the policy
    findings = []
    if accept is not None and reject is None:
        findings.append("no-reject-option")
    if _pre_ticked(tree, layer, words):
        findings.append("pre-ticked-consent")
    if accept is not None and accept.kind == "ambiguous":
        findings.append("ambiguous-accept")
    if (accept is not None and reject is not None and reject.control.area > 0
            and accept.control.area >= HIGHLIGHT_RATIO * reject.control.area):
        findings.append("accept-highlighted")
    return Detection(
        "consent",
        accept=accept.control if accept else None,
        reject=reject.control if reject else None,
        findings=findings,
    )


def detect_xml(xml: str, source: str = "<dump>") -> Detection:
    """``detect`` on uiautomator XML; malformed XML is an :class:`InputError` naming ``source``."""
    return detect(parse_hierarchy(xml, source=source))
