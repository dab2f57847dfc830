"""Extra Map page layers from the other workflows: street-view deviance scores, CCTV reports and live alerts."""

import numpy as np
import pandas as pd
import pydeck as pdk

from crimeviz.cctv import store as cctv_store
from crimeviz.cctv.live import alert_map
from crimeviz.explore import maps
from crimeviz.store import counts
from crimeviz.store.filters import IncidentFilter
from crimeviz.streetview import store as streetview_store

NEARBY_M = 250


def deviance_layer(con) -> pdk.Layer | None:
    """DevianceNet scores as markers coloured by SEA class; None when nothing was scored."""
    scores = streetview_store.scores_for_map(con)
    if scores.empty:
        return None
    scores["color"] = [[*maps.DEVIANCE_COLOURS[int(c)], 230] for c in scores["sea_class"]]
    return maps.marker_layer(scores, "deviance-scores")


def cctv_layer(con, f: IncidentFilter) -> pdk.Layer | None:
    """CCTV review reports at their cameras, with the incidents recorded nearby in the filter's dates."""
    reports = cctv_store.reports_for_map(con)
    if reports.empty:
        return None
    shown = reports.assign(
        nearby=nearby(con, reports, f),
        when=reports["created_at"].astype(str).str[:16],
        peak_text=reports["peak"].map("{:.2f}".format),
    )
    reports["tooltip"] = maps.tooltip_rows(
        shown,
        {
            "CCTV report": "report_id",
            "Camera": "camera",
            "Reviewed": "when",
            "Peak anomaly score": "peak_text",
            "Alert segments": "n_segments",
            f"Incidents within {NEARBY_M} m (filter dates)": "nearby",
        },
    )
    reports["color"] = [[40, 40, 200, 230]] * len(reports)
    return maps.marker_layer(reports, "cctv-reports")


def nearby(con, places: pd.DataFrame, f: IncidentFilter) -> list[int]:
    """Incidents within ``NEARBY_M`` of each row's ``lat``/``lon`` in the filter's dates (one query per place)."""
    found: dict[tuple[float, float], int] = {}
    for place in zip(places["lat"], places["lon"]):
        if place not in found:
            found[place] = len(counts.incidents_near(con, *place, NEARBY_M, f.start, f.end))
    return [found[place] for place in zip(places["lat"], places["lon"])]


# A live alert's colour: by its type (a qualitative palette, ColorBrewer "Paired", in the order of the
# types found) or by its severity (:data:`SEVERITY_RAMP`), each a reviewer's label's, else the model's
# classification's (a label outranks the model); alerts without a type or rating in grey tones. Dark
# outlines set them apart from the other markers.
ALERT_COLOURINGS = ("type", "severity")
NOT_RATED = "true alarm, not rated"
TYPE_PALETTE = [
    (31, 120, 180),
    (227, 26, 28),
    (51, 160, 44),
    (255, 127, 0),
    (106, 61, 154),
    (177, 89, 40),
    (166, 206, 227),
    (251, 154, 153),
    (178, 223, 138),
    (253, 191, 111),
    (202, 178, 214),
    (255, 255, 153),
]
GREYS = {
    alert_map.UNLABELLED: (150, 150, 150),
    alert_map.FALSE_ALARM: (200, 200, 200),
    alert_map.UNSURE: (110, 110, 140),
    alert_map.NO_TYPE: (60, 60, 60),
    NOT_RATED: (60, 60, 60),
}
# ColorBrewer "Purples" from its 4th class to its darkest, spread over severities 1–10: apart from the
# hexagons' yellow-to-red.
PURPLES = [(188, 189, 220), (158, 154, 200), (128, 125, 186), (106, 81, 163), (84, 39, 143), (63, 0, 125)]
SEVERITY_RAMP = [
    tuple(int(round(np.interp(s, np.linspace(1, 10, len(PURPLES)), [c[i] for c in PURPLES]))) for i in range(3))
    for s in range(1, 11)
]


def _severity_key(severity, kind: str) -> str:
    if not pd.isna(severity):
        return f"severity {int(severity)}"
    return kind if kind in (alert_map.UNLABELLED, alert_map.FALSE_ALARM, alert_map.UNSURE) else NOT_RATED


def colour_alerts(alerts: pd.DataFrame, by: str) -> pd.DataFrame:
    """``alerts`` (:func:`alert_map.alerts_for_map`) with a ``color`` and the ``key`` the legend names it by,
    coloured ``by`` "type" or "severity"; colour the alerts before filtering them, so a type keeps its colour."""
    if by == "severity":
        keys = [_severity_key(s, t) for s, t in zip(alerts["severity"], alerts["type"])]
        palette = {f"severity {s}": rgb for s, rgb in enumerate(SEVERITY_RAMP, 1)} | GREYS
    else:
        keys = list(alerts["type"])
        named = sorted({k for k in keys if k not in GREYS})
        palette = {k: TYPE_PALETTE[i % len(TYPE_PALETTE)] for i, k in enumerate(named)} | GREYS
    return alerts.assign(key=keys, color=[[*palette[k], 230] for k in keys])


def _legend_order(key: str) -> tuple:
    return (key in GREYS, int(key.split()[1]) if key.startswith("severity ") else 0, key)


def alert_layer(con, alerts: pd.DataFrame, f: IncidentFilter) -> tuple[pdk.Layer | None, list[tuple[str, str]]]:
    """Coloured alerts (:func:`colour_alerts`) as markers with a plain-text tooltip, and the legend's items
    (None and none for no alerts)."""
    if alerts.empty:
        return None, []
    shown = alerts.assign(
        when=alerts["started_at"].astype(str).str[:19],
        peak_text=alerts["peak"].map("{:.2f}".format),
        rated=alerts["severity"].map(lambda s: "not rated" if pd.isna(s) else f"{int(s)} of 10"),
        gear=alerts["instrument"].fillna("—"),
        said_by=alerts["by"].fillna("—"),
        model_text=alerts["model"].fillna("—"),
        nearby=nearby(con, alerts, f),
    )
    frame = alerts.assign(
        tooltip=maps.tooltip_rows(
            shown,
            {
                "Live CCTV alert": "alert_id",
                "Camera": "camera",
                "Started": "when",
                "Peak anomaly score": "peak_text",
                "Detection": "detection",
                "Type": "type",
                "Instrument": "gear",
                "Severity": "rated",
                "Type and severity by": "said_by",
                "Model's classification": "model_text",
                "Review": "status",
                f"Incidents within {NEARBY_M} m (filter dates)": "nearby",
            },
        )
    )
    colours = dict(zip(frame["key"], frame["color"]))
    legend = [(k, "rgb({},{},{})".format(*colours[k][:3])) for k in sorted(colours, key=_legend_order)]
    return maps.marker_layer(frame, "cctv-live-alerts", outline=(20, 20, 20, 255), min_pixels=7), legend


def spike_view(con, f: IncidentFilter, res: int, names: dict[str, str], layer: str | None = None):
    """The Map's spike layers for the 7 days to ``f.end`` (the areas of ``layer``, default the derived
    neighbourhoods, under the cells) and the caption that says what was found; ``(layers, caption)``."""
    from crimeviz.explore import spikes
    from crimeviz.store import areas
    from crimeviz.web import area_views

    cells = spikes.cell_spikes(con, f, f.end, res)
    known = areas.layer_names(con)
    if layer not in known:
        layer = areas.DEFAULT_LAYER if areas.DEFAULT_LAYER in known else (known[0] if known else None)
    by_area = spikes.area_spikes(con, f, f.end, layer) if layer else None
    drawn = [spikes.spike_layer(cells, names)]
    if by_area is not None and by_area["spike"].any():
        drawn.insert(0, spikes.area_spike_layer(area_views.features(con, layer), by_area))
    return [d for d in drawn if d is not None], spikes.caption(cells, f.end, by_area, layer)
