"""The timeline picture of report.html: one lane per event category, the consent line on top.

Inline SVG only (no script, no external resource). Each mark has a ``<title>`` so a browser
shows the event on hover without any JavaScript.
"""

from __future__ import annotations

from html import escape

from harness.analysis.model import RunContext
from harness.events import CONSENT_ACCEPT, CONSENT_REJECT, CONSENT_SHOWN, FLOW_HTTP, Event

WIDTH, LABEL_W, LANE_H, TOP, BOTTOM = 960, 170, 22, 24, 28
PHASE_COLOURS = {"before": "#d9480f", "refused": "#862e9c", "accepted": "#2b8a3e"}


def lane_of(event: Event) -> str | None:
    """The lane an event is drawn in, or None for events the picture leaves out."""
    if event.type == "hook.call":
        return f"read: {event.data.get('category') or event.data.get('data_type') or '?'}"
    if event.type.startswith("permission."):
        return "permission"
    if event.type == FLOW_HTTP:
        return "network flow"
    if event.type.startswith(("consent.", "ui.")):
        return "ui / consent"
    if event.type.startswith(("app.", "lifecycle.")):
        return "app lifecycle"
    return None


def _label(event: Event) -> str:
    data = event.data
    what = data.get("api") or data.get("url") or data.get("action") or data.get("activity") or ""
    return f"#{event.seq} {event.type} {what}"


def timeline_svg(ctx: RunContext) -> str:
    events = [e for e in ctx.events if lane_of(e) is not None]
    t0 = ctx.t0
    if not events or t0 is None:
        return '<p class="muted">No events to draw.</p>'
    lanes = sorted({str(lane_of(e)) for e in events}, key=lambda n: (not n.startswith("ui"), n))
    end = max(e.t for e in ctx.events)
    manifest_end = ctx.bundle.manifest.get("t_end")
    if isinstance(manifest_end, int | float) and not isinstance(manifest_end, bool):
        end = max(end, float(manifest_end))
    span = max(end - t0, 1e-3)
    plot_w = WIDTH - LABEL_W - 10
    height = TOP + LANE_H * len(lanes) + BOTTOM

    def x(t: float) -> float:
        return round(LABEL_W + (t - t0) / span * plot_w, 1)

    parts = [f'<svg width="{WIDTH}" height="{height}" '
             f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="event timeline">']
    for i, lane in enumerate(lanes):
        y = TOP + i * LANE_H
        parts.append(f'<rect x="{LABEL_W}" y="{y}" width="{plot_w}" height="{LANE_H - 2}" '
                     f'fill="{"#f8f9fa" if i % 2 else "#f1f3f5"}"/>')
        parts.append(f'<text x="{LABEL_W - 6}" y="{y + 15}" text-anchor="end" '
                     f'class="lane">{escape(lane)}</text>')
    for event in events:
        y = TOP + lanes.index(str(lane_of(event))) * LANE_H + LANE_H // 2 - 1
        colour = PHASE_COLOURS[ctx.phase(event.t)]
        shape = "rect" if event.type == FLOW_HTTP else "circle"
        if shape == "rect":
            mark = f'<rect x="{x(event.t) - 3}" y="{y - 6}" width="6" height="12" fill="{colour}">'
        else:
            mark = f'<circle cx="{x(event.t)}" cy="{y}" r="4" fill="{colour}">'
        parts.append(f'{mark}<title>{escape(_label(event))} at {event.t - t0:.3f}s'
                     f'</title></{shape}>')
    for event in ctx.events:
        if event.type in (CONSENT_SHOWN, CONSENT_ACCEPT, CONSENT_REJECT):
            style = {"consent.shown": ("#868e96", "4 3"), "consent.accept": ("#2b8a3e", ""),
                     "consent.reject": ("#862e9c", "")}[event.type]
            parts.append(f'<line x1="{x(event.t)}" y1="{TOP - 8}" x2="{x(event.t)}" '
                         f'y2="{height - BOTTOM}" stroke="{style[0]}" stroke-width="2" '
                         f'stroke-dasharray="{style[1]}"><title>{escape(event.type)} at '
                         f'{event.t - t0:.3f}s</title></line>')
            parts.append(f'<text x="{x(event.t) + 3}" y="{TOP - 10}" class="consent">'
                         f'{escape(event.type.split(".")[1])}</text>')
    axis_y = height - BOTTOM + 14
    for k in range(6):
        t = t0 + span * k / 5
        parts.append(f'<text x="{x(t)}" y="{axis_y}" text-anchor="middle" class="axis">'
                     f'{t - t0:.1f}s</text>')
    parts.append("</svg>")
    return "".join(parts)
