"""The bulletin's charts and maps as PNG images (matplotlib, no display needed)."""

import io
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from h3.api import basic_str as h3s  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402

BACKGROUND = "#e6e6e6"
PERIOD = "#c0392b"
BEFORE = "#9aa5b1"


def _png(fig) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return out.getvalue()


def _polygons(cells: list[str]) -> list[list[tuple[float, float]]]:
    return [[(lon, lat) for lat, lon in h3s.cell_to_boundary(c)] for c in cells]


def hex_map(
    background: list[str],
    cells: list[str],
    colours: list,
    title: str,
    labels: list[str] | None = None,
    points: pd.DataFrame | None = None,
    focus: bool = False,
) -> bytes:
    """The study area's cells in grey, ``cells`` filled with ``colours`` (RGB 0-255 or names), each
    labelled with ``labels`` at its centre; optional ``points`` (``lat``, ``lon``) drawn on top.
    With ``focus`` the view closes in on ``cells`` (with a margin) instead of the whole study area."""
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    ax.add_collection(PolyCollection(_polygons(background), facecolors=BACKGROUND, edgecolors="white", linewidths=0.2))
    faces = [tuple(v / 255 for v in c[:3]) if not isinstance(c, str) else c for c in colours]
    if cells:
        ax.add_collection(PolyCollection(_polygons(cells), facecolors=faces, edgecolors="black", linewidths=0.4))
    for cell, label in zip(cells, labels or []):
        lat, lon = h3s.cell_to_latlng(cell)
        ax.annotate(label, (lon, lat), xytext=(4, 4), textcoords="offset points", fontsize=7, weight="bold")
    if points is not None and len(points):
        ax.scatter(points["lon"], points["lat"], s=6, c="black", zorder=3)
    everything = _polygons(cells if focus and cells else background or cells)
    lons = [x for poly in everything for x, _ in poly] or [0.0]
    lats = [y for poly in everything for _, y in poly] or [0.0]
    pad = max(max(lons) - min(lons), max(lats) - min(lats), 0.02) * (0.35 if focus else 0.0)
    ax.set_xlim(min(lons) - pad, max(lons) + pad)
    ax.set_ylim(min(lats) - pad, max(lats) + pad)
    ax.set_aspect(1 / max(math.cos(math.radians(sum(lats) / len(lats))), 1e-6))
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    return _png(fig)


def daily_bars(series: pd.DataFrame, period_start, title: str) -> bytes:
    """Incidents per day (``period``, ``n``), the bulletin's period in red, the days before in grey."""
    fig, ax = plt.subplots(figsize=(5.2, 2.6))
    days = pd.to_datetime(series["period"])
    colours = [PERIOD if d >= pd.Timestamp(period_start) else BEFORE for d in days]
    ax.bar(days, series["n"], color=colours, width=0.85)
    ax.set_ylabel("incidents per day", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_title(title, fontsize=9)
    fig.autofmt_xdate()
    return _png(fig)


def offence_bars(table: pd.DataFrame, now_label: str, before_label: str, title: str) -> bytes:
    """Grouped bars per ``offence``: ``current`` (red) and ``previous`` (grey)."""
    fig, ax = plt.subplots(figsize=(5.2, 2.6))
    x = range(len(table))
    ax.bar([i - 0.2 for i in x], table["previous"], width=0.4, color=BEFORE, label=before_label)
    ax.bar([i + 0.2 for i in x], table["current"], width=0.4, color=PERIOD, label=now_label)
    ax.set_xticks(list(x), table["offence"], fontsize=7, rotation=15)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=9)
    return _png(fig)
