"""What the Patrol dosage page draws: the dosage-vs-crime map, the dwell-time chart and its tables."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pydeck as pdk
from h3.api import basic_int as h3int

from crimeviz.explore import maps
from crimeviz.patrol.dosage import BALANCED, CRIME_GAP, FOLLOW_HOURS, KOPER_BAND, PRESENCE_GAP, Dosage

CATEGORY_COLOURS = {CRIME_GAP: (215, 25, 28), PRESENCE_GAP: (44, 123, 182)}
MINUTES_RAMP = [(230, 230, 230), (190, 190, 190), (140, 140, 140), (90, 90, 90)]  # other cells, by minutes


def cell_frame(report: Dosage) -> pd.DataFrame:
    """The report's cells with hex ids, a colour (gaps in red and blue, the rest grey by minutes) and a
    plain-text tooltip."""
    table = report.cells.copy()
    table["cell"] = [h3int.int_to_str(int(c)) for c in table["cell"]]
    minutes = table["minutes"].to_numpy(float)
    breaks = maps.class_breaks(minutes[minutes > 0]) if (minutes > 0).any() else np.array([0.0])
    grey = np.searchsorted(breaks, minutes, side="left").clip(0, len(MINUTES_RAMP) - 1)
    table["color"] = [
        [*CATEGORY_COLOURS[c], 210] if c in CATEGORY_COLOURS else [*MINUTES_RAMP[g], 150]
        for c, g in zip(table["category"], grey)
    ]
    table["minutes_text"] = table["minutes"].round(1)
    table["tooltip"] = maps.tooltip_rows(
        table,
        {
            "Cell": "cell",
            "Minutes present": "minutes_text",
            "Visits": "visits",
            "Incidents": "incidents",
            "": "category",
        },
    )
    return table


def dosage_map(report: Dosage, basemap) -> pdk.Deck | None:
    """Cells by presence and crime over the report's period; None when there is nothing to draw."""
    if report.cells.empty:
        return None
    frame = cell_frame(report)
    latlng = np.array([h3int.cell_to_latlng(int(c)) for c in report.cells["cell"]])
    pad = 0.01
    view = maps.view_for(
        (latlng[:, 0].min() - pad, latlng[:, 0].max() + pad, latlng[:, 1].min() - pad, latlng[:, 1].max() + pad)
    )
    layer = maps.hex_layer(frame[["cell", "color", "tooltip"]], "dosage-cells", opacity=0.8)
    return maps.deck([layer], view, basemap)


def map_legend() -> list[tuple[str, str]]:
    return [
        (CRIME_GAP, "rgb({},{},{})".format(*CATEGORY_COLOURS[CRIME_GAP])),
        (PRESENCE_GAP, "rgb({},{},{})".format(*CATEGORY_COLOURS[PRESENCE_GAP])),
        (f"{BALANCED} (darker: more minutes)", "rgb({},{},{})".format(*MINUTES_RAMP[2])),
    ]


def koper_chart(report: Dosage) -> go.Figure:
    """Visits per dwell-time bin, Koper's band highlighted."""
    table = report.koper
    colours = ["#d7191c" if band else "#8c8c8c" for band in table["koper_band"]]
    fig = go.Figure(go.Bar(x=table["dwell"], y=table["visits"], marker_color=colours, name="visits"))
    if "incident_after_share" in table:
        fig.add_trace(
            go.Scatter(
                x=table["dwell"],
                y=table["incident_after_share"] * 100,
                yaxis="y2",
                mode="lines+markers",
                name=f"% followed by an incident within {FOLLOW_HOURS:g} h",
                line={"color": "#2c7bb6"},
            )
        )
        fig.update_layout(
            yaxis2={"title": "% with an incident after", "overlaying": "y", "side": "right", "rangemode": "tozero"},
            legend={"orientation": "h", "y": -0.3},
        )
    fig.update_layout(
        title=f"Dwell time per visit (red: Koper's {KOPER_BAND[0]}–{KOPER_BAND[1]} minutes)",
        xaxis_title="minutes in the cell per visit",
        yaxis_title="visits",
        height=360,
        margin={"l": 40, "r": 10, "t": 50, "b": 40},
    )
    return fig


def gap_tables(report: Dosage, top: int = 15) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cells with most crime and least presence, and with most presence and least crime."""
    table = report.cells.assign(cell=[h3int.int_to_str(int(c)) for c in report.cells["cell"]])
    columns = ["cell", "incidents", "minutes", "visits", "minutes_per_incident"]
    crime = table[table["category"] == CRIME_GAP].sort_values(["incidents", "minutes"], ascending=[False, True])
    presence = table[table["category"] == PRESENCE_GAP].sort_values(["minutes", "incidents"], ascending=[False, True])
    return crime[columns].head(top).round(1), presence[columns].head(top).round(1)
