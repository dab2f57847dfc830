"""Plan exports: a CSV of every stop and a printable PDF (overview map, unit table, a map per unit).

The PDF uses DejaVu Sans when installed (any text); otherwise fpdf2's core
Helvetica, with dashes made ASCII and other characters outside latin-1 replaced by ``?``.
"""

from pathlib import Path

import h3
import numpy as np
from fpdf import FPDF

from crimeviz.patrol import views
from crimeviz.patrol.plan import Plan
from crimeviz.store import safe_csv

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
CONTEXT_GREY = (225, 225, 230)
ASCII_DASHES = str.maketrans({"–": "-", "—": "-", "…": "..."})


def plan_csv(plan: Plan, names: dict[str, str]) -> str:
    """Every stop of every unit in visiting order, with the plan's id, date, shift and status."""
    stops = views.stops_table(plan, names)
    stops.insert(0, "plan_id", plan.plan_id)
    stops.insert(1, "date", plan.params.day.isoformat())
    stops.insert(2, "shift", plan.params.shift.label())
    stops.insert(3, "status", plan.status)
    return safe_csv.to_csv_bytes(stops).decode("utf-8")


class _Pdf(FPDF):
    """A4 landscape with a Unicode font when one is installed."""

    def __init__(self):
        super().__init__(orientation="L", unit="mm", format="A4")
        self.unicode = (DEJAVU / "DejaVuSans.ttf").exists() and (DEJAVU / "DejaVuSans-Bold.ttf").exists()
        if self.unicode:
            self.add_font("DejaVu", "", str(DEJAVU / "DejaVuSans.ttf"))
            self.add_font("DejaVu", "B", str(DEJAVU / "DejaVuSans-Bold.ttf"))
        self.family = "DejaVu" if self.unicode else "Helvetica"
        self.set_auto_page_break(True, margin=12)

    def text_safe(self, text) -> str:
        text = str(text)
        if self.unicode:
            return text
        return text.translate(ASCII_DASHES).encode("latin-1", "replace").decode("latin-1")

    def font(self, size: float, bold: bool = False) -> None:
        self.set_font(self.family, "B" if bold else "", size)

    def line_of(self, text: str, size: float = 9, bold: bool = False, height: float = 5) -> None:
        self.font(size, bold)
        self.multi_cell(0, height, self.text_safe(text), new_x="LMARGIN", new_y="NEXT")

    def grid_table(self, frame, widths, size: float = 7.5) -> None:
        self.font(size)
        with self.table(
            col_widths=widths,
            text_align="LEFT",
            line_height=4.2,
            first_row_as_headings=True,
            align="LEFT",
            width=sum(widths),
        ) as table:
            table.row([self.text_safe(c) for c in frame.columns])
            for values in frame.itertuples(index=False):
                table.row([self.text_safe(v) for v in values])


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


def _draw_map(pdf: _Pdf, plan: Plan, units, box, context: list[str], stop_numbers: bool) -> None:
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
    pdf = _Pdf()
    pdf.set_title(pdf.text_safe(f"Patrol plan {plan.params.day} {plan.params.shift.label()}"))
    pdf.set_author(pdf.text_safe(plan.created_by))
    pdf.add_page()
    ident = f"#{plan.plan_id}" if plan.plan_id is not None else "(not saved)"
    pdf.line_of(f"Patrol plan {ident} — {plan.params.day:%A %d %B %Y}, {plan.params.shift.label()}", 15, True, 8)
    who = f"created by {plan.created_by}" + (f" at {plan.created_at:%Y-%m-%d %H:%M}" if plan.created_at else "")
    if plan.approved_by:
        who += f" · approved by {plan.approved_by} at {plan.approved_at:%Y-%m-%d %H:%M}"
    pdf.line_of(f"Status: {plan.status.upper()} · {who}", 9)
    pdf.line_of(
        f"Expected incidents inside the beats: {plan.covered:.1f} of {plan.total_risk:.1f} in the shift "
        f"({plan.share:.0%}; {plan.day_share:.0%} of the day's {plan.day_risk:.1f})",
        10,
        True,
    )
    for line in _parameters(plan):
        pdf.line_of(line, 8, height=4)
    top = pdf.get_y() + 2
    _draw_map(pdf, plan, [b.unit for b in plan.beats], (10, top, 125, 200 - top), context, stop_numbers=False)
    pdf.set_xy(140, top)
    pdf.set_left_margin(140)
    table = views.unit_table(plan, names)[
        ["unit", "neighbourhood", "cells", "area km²", "loop km", "minutes", "expected incidents", "% of shift"]
    ]
    pdf.grid_table(table, [9, 44, 10, 13, 12, 15, 18, 14])
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
        pdf.line_of(
            f"Unit {beat.unit} — {row['neighbourhood']}: {len(beat.cells)} cells, {row['loop km']} km loop, "
            f"about {row['minutes']} min, {row['expected incidents']} expected incidents "
            f"({row['% of shift']}% of the shift)",
            11,
            True,
            7,
        )
        top = pdf.get_y() + 2
        _draw_map(pdf, plan, [beat.unit], (10, top, 110, 110), [], stop_numbers=True)
        pdf.set_xy(125, top)
        pdf.set_left_margin(125)
        mine = stops[stops["unit"] == beat.unit][["stop", "cell", "neighbourhood", "lat", "lon", "expected incidents"]]
        pdf.grid_table(mine, [10, 32, 50, 18, 20, 22])
        pdf.set_left_margin(10)
    return bytes(pdf.output())
