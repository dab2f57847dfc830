"""Extra Map page layers from the other workflows: street-view deviance scores and CCTV reports."""

import pydeck as pdk

from crimeviz.cctv import store as cctv_store
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
    nearby = [
        len(counts.incidents_near(con, lat, lon, NEARBY_M, f.start, f.end))
        for lat, lon in zip(reports["lat"], reports["lon"])
    ]
    shown = reports.assign(
        nearby=nearby, when=reports["created_at"].astype(str).str[:16], peak_text=reports["peak"].map("{:.2f}".format)
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
