"""Build window hierarchies the way uiautomator2's ``dump_hierarchy()`` writes them.

Every node carries the full attribute set in uiautomator's order (index, text, resource-id,
class, package, content-desc, checkable, checked, clickable, enabled, focusable, focused,
scrollable, long-clickable, password, selected, visible-to-user, bounds), so tests and the
fixture files under tests/fixtures/ui/ read like real dumps of a 1080x2400 screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

SCREEN = (0, 0, 1080, 2400)
Bounds = tuple[int, int, int, int]


@dataclass
class V:
    """One view. ``cls`` may be short ("TextView") for android.widget classes."""

    cls: str
    bounds: Bounds
    text: str = ""
    rid: str = ""
    desc: str = ""
    clickable: bool = False
    checkable: bool = False
    checked: bool = False
    scrollable: bool = False
    password: bool = False
    enabled: bool = True
    children: list[V] = field(default_factory=list)


def _class(cls: str) -> str:
    return cls if "." in cls else f"android.widget.{cls}"


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _lines(view: V, index: int, package: str, depth: int) -> list[str]:
    x1, y1, x2, y2 = view.bounds
    focusable = view.clickable or view.checkable or view.cls == "EditText"
    attrs = [
        ("index", str(index)), ("text", view.text), ("resource-id", view.rid),
        ("class", _class(view.cls)), ("package", package), ("content-desc", view.desc),
        ("checkable", _flag(view.checkable)), ("checked", _flag(view.checked)),
        ("clickable", _flag(view.clickable)), ("enabled", _flag(view.enabled)),
        ("focusable", _flag(focusable)), ("focused", "false"),
        ("scrollable", _flag(view.scrollable)), ("long-clickable", "false"),
        ("password", _flag(view.password)), ("selected", "false"),
        ("visible-to-user", "true"), ("bounds", f"[{x1},{y1}][{x2},{y2}]"),
    ]
    pad = "  " * (depth + 1)
    head = pad + "<node " + " ".join(f"{k}={quoteattr(v)}" for k, v in attrs)
    if not view.children:
        return [head + " />"]
    body = [line for i, child in enumerate(view.children)
            for line in _lines(child, i, package, depth + 1)]
    return [head + ">", *body, pad + "</node>"]


def dump(*windows: tuple[str, V], rotation: int = 0) -> str:
    """XML for one or more windows, each given as (package, root view)."""
    lines = ["<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>",
             f'<hierarchy rotation="{rotation}">']
    for i, (package, root) in enumerate(windows):
        lines += _lines(root, i, package, 0)
    lines.append("</hierarchy>")
    return "\n".join(lines) + "\n"


def decor(*content: V) -> V:
    """The FrameLayout / LinearLayout / content frame every activity window starts with."""
    return V("FrameLayout", SCREEN, children=[
        V("LinearLayout", SCREEN, children=[
            V("FrameLayout", (0, 96, 1080, 2400), rid="android:id/content",
              children=list(content)),
        ]),
    ])


def dialog(pkg: str, title: str, body: list[str], buttons: list[V],
           top: int = 620, bottom: int = 1780) -> V:
    """A centred app dialog: title, scrollable body paragraphs, then a button row."""
    body_views = [V("TextView", (120, top + 140 + 160 * i, 960, top + 290 + 160 * i), text=t,
                    rid=f"{pkg}:id/tv_content" if i == 0 else "")
                  for i, t in enumerate(body)]
    return V("FrameLayout", (90, top, 990, bottom), rid=f"{pkg}:id/dialog_root", children=[
        V("LinearLayout", (90, top, 990, bottom), children=[
            V("TextView", (120, top + 40, 960, top + 120), text=title, rid=f"{pkg}:id/tv_title"),
            V("ScrollView", (120, top + 140, 960, bottom - 240), rid=f"{pkg}:id/scroll_view",
              scrollable=True, children=[V("LinearLayout", (120, top + 140, 960, bottom - 240),
                                           children=body_views)]),
            V("LinearLayout", (120, bottom - 200, 960, bottom - 40), rid=f"{pkg}:id/ll_buttons",
              children=buttons),
        ]),
    ])


def button(text: str, bounds: Bounds, rid: str = "", cls: str = "Button") -> V:
    return V(cls, bounds, text=text, rid=rid, clickable=True)


def consent_screen(pkg: str, body: list[str], buttons: list[tuple[str, str]],
                   title: str = "") -> str:
    """A whole dump: the app's splash behind a dialog with ``body`` and (text, id) buttons."""
    width = 840 // max(1, len(buttons))
    views = [button(text, (120 + i * width, 1580, 120 + (i + 1) * width - 20, 1740), rid)
             for i, (text, rid) in enumerate(buttons)]
    splash = V("ImageView", (0, 96, 1080, 2400), rid=f"{pkg}:id/iv_splash")
    return dump((pkg, decor(splash, dialog(pkg, title, body, views))))
