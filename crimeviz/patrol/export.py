"""Plan exports: a CSV of every stop and a printable PDF (overview map, unit table, a map per unit)."""

import h3
import numpy as np

from crimeviz.explore.pdf import Document
from crimeviz.patrol import views
from crimeviz.patrol.plan import Plan
from crimeviz.store import safe_csv

CONTEXT_GREY = (225, 225, 230)


def plan_csv(plan: Plan, names: dict[str, str]) -> str:
    """Every stop of every unit in visiting order, with the plan's id, date, shift and status."""
    stops = views.stops_table(plan, names)
    stops.insert(0, "plan_id", plan.plan_id)
    stops.insert(1, "date", plan.params.day.isoformat())
    stops.insert(2, "shift", plan.params.shift.label())
    stops.insert(3, "status", plan.status)
    return safe_csv.to_csv_bytes(stops).decode("utf-8")


def _projection(cells: list[str], box: tuple[float, float, float, float]):
    """lat/lng → page mm inside ``box`` (x, y, w, h), equal scale on both axes."""
    pts = np.array([p for c in cells for p in h3.cell_to_boundary(c)])
    lat0 = np.radians(pts[:, 0].mean())
    xs, ys = pts[:, 1] * np.cos(lat0), pts[:, 0]
    x, y, w, h = box[0] + 2, box[1] + 2, box[2] - 4, box[3] - 4
    scale = min(w / max(np.ptp(xs), 1e-9), h / max(np.ptp(ys), 1e-9))
    ox = x + (w - np.ptp(xs) * scale) / 2
    oy = y + (h - np.ptp(ys) * scale) / 2

    def to_page(lat, lng):
        return ox + (lng * np.cos(lat0) - xs.min()) * scale, oy + (ys.max() - lat) * scale

    return to_page


def _draw_map(pdf: Document, plan: Plan, units, box, context: list[str], stop_numbers: bool) -> None:
    """Cells of ``units`` in unit colours over grey ``context`` cells, with loops and labels."""
    beats = [plan.beat(u) for u in units]
    shown = [c for b in beats for c in b.cells]
    frame = shown if stop_numbers or not context else shown + list(context)
    to_page = _projection(frame, box)
    x, y, w, h = box
    pdf.set_draw_color(150, 150, 160)
    pdf.rect(x, y, w, h)
    pdf.set_line_width(0.1)
    for cell in context:
        pts = [to_page(*p) for p in h3.cell_to_boundary(cell)]
        if all(x <= px <= x + w and y <= py <= y + h for px, py in pts):
            pdf.set_fill_color(*CONTEXT_GREY)
            pdf.set_draw_color(255, 255, 255)
            pdf.polygon(pts, style="DF")
    for beat in beats:
        pdf.set_fill_color(*views.unit_colour(beat.unit))
        pdf.set_draw_color(255, 255, 255)
        for cell in beat.cells:
            pdf.polygon([to_page(*p) for p in h3.cell_to_boundary(cell)], style="DF")
    pdf.set_line_width(0.5 if stop_numbers else 0.3)
    for beat in beats:
        pdf.set_draw_color(*views.route_colour(beat.unit))
        loop = [to_page(*h3.cell_to_latlng(c)) for c in (*beat.cells, beat.cells[0])]
        pdf.polyline(loop)
        sx, sy = loop[0]
        pdf.set_fill_color(255, 255, 255)
        pdf.circle(sx, sy, 1.2 if stop_numbers else 0.8, style="DF")
        pdf.font(6 if stop_numbers else 7, bold=True)
        pdf.set_text_color(0, 0, 0)
        if stop_numbers:
            for k, (px, py) in enumerate(loop[:-1]):
                pdf.text(px + 0.8, py - 0.8, str(k + 1))
        else:
            pdf.text(sx + 1.2, sy - 1.2, str(beat.unit))
    pdf.set_line_width(0.2)


def _parameters(plan: Plan) -> list[str]:
    p = plan.params
    limits = p.limits()
    weights = ", ".join(f"{k} ×{v:g}" for k, v in p.weights) or "all offences ×1"
    area = f", at most {limits.max_area_km2:g} km²" if limits.max_area_km2 is not None else ""
    return [
        f"{len(plan.beats)} units (asked for {p.units}); at most {limits.max_cells} cells{area} and "
        f"{limits.patrol_minutes:g} min per unit ({limits.minutes_per_cell:g} min per cell, "
        f"travel at {limits.speed_kmh:g} km/h); H3 resolution {p.res}",
        f"Offence priorities: {weights}; excluded cells: {len(p.excluded)}",
        f"Risk: {plan.risk_model} ({plan.risk_version})",
        f"Method: {plan.method}",
    ]


def plan_pdf(plan: Plan, names: dict[str, str], context: list[str]) -> bytes:
    """A printable plan: overview map and unit table, then a page section per unit with its stops.

    ``names`` maps cell hex → neighbourhood; ``context`` cells (e.g. the study area
    at resolution 7) are drawn in grey behind the overview.
    """
    ident = f"#{plan.plan_id}" if plan.plan_id is not None else "(not saved)"
    title = f"Patrol plan {ident} — {plan.params.day:%A %d %B %Y}, {plan.params.shift.label()}"
    pdf = Document(title, plan.created_by, landscape=True)
    pdf.heading(title, 15)
    who = f"created by {plan.created_by}" + (f" at {plan.created_at:%Y-%m-%d %H:%M}" if plan.created_at else "")
    if plan.approved_by:
        who += f" · approved by {plan.approved_by} at {plan.approved_at:%Y-%m-%d %H:%M}"
    pdf.paragraph(f"Status: {plan.status.upper()} · {who}", 9)
    pdf.paragraph(
        f"Expected incidents inside the beats: {plan.covered:.1f} of {plan.total_risk:.1f} in the shift "
        f"({plan.share:.0%}; {plan.day_share:.0%} of the day's {plan.day_risk:.1f})",
        10,
        bold=True,
    )
    for line in _parameters(plan):
        pdf.paragraph(line, 8, height=4)
    top = pdf.get_y() + 2
    _draw_map(pdf, plan, [b.unit for b in plan.beats], (10, top, 125, pdf.h - 15 - top), context, stop_numbers=False)
    pdf.set_xy(140, top)
    pdf.set_left_margin(140)
    table = views.unit_table(plan, names)[
        ["unit", "neighbourhood", "cells", "area km²", "loop km", "minutes", "expected incidents", "% of shift"]
    ]
    pdf.data_table(table.columns, table.itertuples(index=False), [9, 44, 10, 13, 12, 15, 18, 14], 7.5)
    pdf.set_left_margin(10)
    stops = views.stops_table(plan, names)
    for beat in plan.beats:
        pdf.add_page()
        pdf.set_x(10)
        colour = views.unit_colour(beat.unit)
        pdf.set_fill_color(*colour)
        pdf.rect(10, pdf.get_y() + 1, 5, 5, style="F")
        pdf.set_x(17)
        row = table[table["unit"] == beat.unit].iloc[0]
        pdf.heading(
            f"Unit {beat.unit} — {row['neighbourhood']}: {len(beat.cells)} cells, {row['loop km']} km loop, "
            f"about {row['minutes']} min, {row['expected incidents']} expected incidents "
            f"({row['% of shift']}% of the shift)"
        )
        top = pdf.get_y() + 2
        _draw_map(pdf, plan, [beat.unit], (10, top, 110, 110), [], stop_numbers=True)
        pdf.set_xy(125, top)
        pdf.set_left_margin(125)
        mine = stops[stops["unit"] == beat.unit][["stop", "cell", "neighbourhood", "lat", "lon", "expected incidents"]]
        pdf.data_table(mine.columns, mine.itertuples(index=False), [10, 32, 50, 18, 20, 22], 7.5)
        pdf.set_left_margin(10)
    return pdf.to_bytes()
