"""Map: incidents per H3 cell with filters, context layers and a cell detail panel."""

import streamlit as st
from streamlit_folium import st_folium

from crimeviz.cctv.live import alert_map
from crimeviz.explore import area_maps, charts, exports, leaflet, maps, selection
from crimeviz.store import grid, queries
from crimeviz.web import area_views, overlays, playback, share, tiles, ui

MAX_POINTS = 5_000
SPIKES = "Spikes (last 7 days)"
ALERTS = "CCTV alerts"
ALERT_COLUMNS = [
    "alert_id",
    "camera",
    "started_at",
    "peak",
    "detection",
    "type",
    "instrument",
    "severity",
    "by",
    "status",
    "model",
]

LAYERS = [
    "Hexagons",
    "Areas",
    "Heatmap",
    "Points",
    "Neighbourhoods",
    "Street-view deviance",
    "CCTV reports",
    ALERTS,
    SPIKES,
]
DEFAULT_LAYERS = ["Hexagons", "Neighbourhoods", "Street-view deviance", "CCTV reports"]
ALERT_HEADINGS = {
    "alert_id": "alert",
    "started_at": "started",
    "severity": "severity (1–10)",
    "status": "review",
    "model": "model's classification",
    "link": "page",
}
ALERT_TABLE_ROWS = 12  # more scroll in a fixed height


def alert_table(alerts):
    """The listed alerts as the table shows them, as text: st.table renders Markdown, so the cells are escaped
    and the alert's page is a Markdown link."""
    listed = alerts.loc[:, ALERT_COLUMNS].assign(
        started_at=alerts["started_at"].astype(str).str[:19], peak=alerts["peak"].map("{:.2f}".format)
    )
    table = listed.astype("string").fillna("—").map(ui.plain)
    table["link"] = [f"[open]({link})" for link in alerts["link"]]
    return table.rename(columns=ALERT_HEADINGS)


user, con, f = ui.filtered_page("Incident map")
# Live alerts carry the reviewers' work (review status, verdicts, labels, the model's classification): the
# layer, its filters, table and link fields are only for roles with CCTV access. A link that asks such a user
# for the layer opens the rest of its view without it.
with_alerts = user.may("cctv")
offered = [x for x in LAYERS if with_alerts or x != ALERTS]
fields = share.map_fields(offered, DEFAULT_LAYERS)
SHARED = [x for x in fields if with_alerts or not x.key.startswith("map_alert_")]
asked_for_alerts = not with_alerts and ALERTS in st.query_params.get_all("layers")
if not with_alerts:  # drop the link's alert fields before it is read
    for field in fields:
        if field not in SHARED:
            st.query_params.pop(field.param, None)
    if asked_for_alerts:
        if rest := [x for x in st.query_params.get_all("layers") if x != ALERTS]:
            st.query_params["layers"] = rest
        else:  # the link's only layer: the default layers
            del st.query_params["layers"]
ui.link_notes(share.sync("map", SHARED))  # resolution, layers, cell and playback in the URL
st.session_state.setdefault("map_res", 8)
st.session_state["map_layers"] = [x for x in st.session_state.get("map_layers", DEFAULT_LAYERS) if x in offered]
for field in SHARED:
    if field.key.startswith("map_alert_"):
        st.session_state.setdefault(field.key, field.default)

left, right = st.columns([2, 3])
res = left.radio(
    "H3 resolution",
    [7, 8, 9],
    horizontal=True,
    key="map_res",
    help="7 ≈ 5.2 km², 8 ≈ 0.74 km², 9 ≈ 0.11 km² per cell",
)
shown = right.multiselect(
    "Layers",
    offered,
    key="map_layers",
    help="Areas: a choropleth of the areas of a layer (beats, divisions, wards), instead of or under the hexagons.",
)
if asked_for_alerts:
    right.caption("The link's CCTV alerts layer is not shown: it needs CCTV access (reviewer or admin role).")
area_map = area_views.choropleth(con, f) if "Areas" in shown else None
live_alerts = alert_map.alerts_for_map(con, f.start, f.end) if ALERTS in shown else None
kept, alert_markers, alert_legend = None, None, []
if live_alerts is not None and not live_alerts.empty:
    a1, a2, a3, a4 = st.columns([3, 2, 3, 2])
    types = a1.multiselect(
        "CCTV alert types",
        sorted(set(live_alerts["type"]) | set(st.session_state["map_alert_types"])),
        key="map_alert_types",
        placeholder="All types",
        help="A reviewer's label, else the model's classification stored with the alert; unlabelled: neither "
        "says a type.",
    )
    lowest = a2.slider(
        "Lowest alert severity",
        1,
        10,
        key="map_alert_severity",
        help="The rating, 1–10, of a reviewer's label, else of the model's classification. At 1 every alert shows, "
        "unrated ones too; above 1 only alerts rated this or more.",
    )
    classes = a3.multiselect(
        "Detection",
        alert_map.CLASSES,
        key="map_alert_classes",
        help="alert: the score passed the camera's alert threshold; detection: only its detection threshold.",
    )
    colour_by = a4.radio("Colour alerts by", overlays.ALERT_COLOURINGS, key="map_alert_colour", horizontal=True)
    kept = alert_map.keep(overlays.colour_alerts(live_alerts, colour_by), types, lowest, classes)
    alert_markers, alert_legend = overlays.alert_layer(con, kept, f)

counts = queries.hex_counts(con, f, res)
st.caption(ui.describe(f))
if counts.empty:
    st.warning(ui.NO_MATCH)
    st.stop()

total = int(counts["n"].sum())
c1, c2, c3 = st.columns(3)
c1.metric("Incidents", f"{total:,}")
c2.metric("Cells with incidents", f"{len(counts):,}")
c3.metric("Share in the top 5% of cells", f"{counts['n'].head(max(1, len(counts) // 20)).sum() / total:.0%}")

names = ui.neighbourhood_names(con, res)
# A click selects a hexagon by its index in the layer's data, and the browser keeps that index
# across reruns, resolving it against whatever the layer then holds. So a click is read once, from
# the layer id it was made on, and the layer gets a new id: the browser drops its selection (no
# stale cell, no faded map) and the chosen cell lives in "map_cell", drawn by its own outline.
picks = st.session_state.get("map_picks", 0)
hex_id = f"incident-hexes-{picks}" if picks else "incident-hexes"
if clicked := selection.picked_cell(st.session_state.get("incident_map"), hex_id):
    st.session_state["map_cell"], st.session_state["map_picks"] = clicked, picks + 1
    hex_id = f"incident-hexes-{picks + 1}"
moved_from = st.session_state.get("map_cell")
if moved_from and (moved := selection.at_resolution(moved_from, res, counts)) != moved_from:
    st.session_state["map_cell"] = moved
cell = st.session_state.get("map_cell")

context = ui.map_context(con)
layers = [context["outline"]]
legend = None
if area_map:
    layers.append(area_map[0])
if "Hexagons" in shown:
    hexes, legend = maps.count_layer(counts, names, hex_id)
    layers.append(hexes)
if "Heatmap" in shown:
    layers.append(maps.heatmap_layer(queries.points(con, f)))
if "Points" in shown:  # a sample: every point hid the hexagons and took seconds to draw per rerun
    layers.append(maps.point_layer(queries.points(con, f, MAX_POINTS)))
if "Neighbourhoods" in shown:
    layers.append(context["neighbourhoods"])
if f.areas:  # the areas the sidebar filter keeps
    layers.append(area_maps.outline_layer(area_views.features(con, f.area_layer), f.areas))
spike_view = (
    overlays.spike_view(con, f, res, names, st.session_state.get("map_area_layer") if area_map else None)
    if SPIKES in shown
    else None
)
extra = {
    "Street-view deviance": lambda: overlays.deviance_layer(con),
    "CCTV reports": lambda: overlays.cctv_layer(con, f),
}
for name, build in extra.items():
    if name in shown and (layer := build()) is not None:
        layers.append(layer)
if alert_markers is not None:
    layers.append(alert_markers)
if spike_view:
    layers += spike_view[0]
if cell:
    layers.append(selection.chosen_cell_layer(cell))

basemap = tiles.basemap(con)
online = tiles.leaflet_view(basemap)
# Without a basemap there is no Leaflet view to show (it needs tiles), so no tabs: the download
# sits under the map, and the page has fewer elements to redraw on every filter change.
tab_deck, tab_leaflet = st.tabs(["Map", "Leaflet (Folium) view"]) if online else (st.container(),) * 2
with tab_deck:
    deck = maps.deck(layers, maps.view_for(context["bounds"]), basemap)
    st.pydeck_chart(deck, on_select="rerun", selection_mode="single-object", key="incident_map")
    if legend:
        st.markdown(maps.legend_html(legend, "Incidents per cell"), unsafe_allow_html=True)
    if area_map:
        st.markdown(area_map[1], unsafe_allow_html=True)  # labels escaped by legend_html
        st.caption(area_map[2])
    if any(layer.id == "deviance-scores" for layer in layers):
        st.markdown(
            maps.legend_html(
                [(f"class {c}", "rgb({},{},{})".format(*rgb)) for c, rgb in maps.DEVIANCE_COLOURS.items()],
                "DevianceNet class (street-view sequences)",
            ),
            unsafe_allow_html=True,
        )
    if spike_view:
        st.caption(spike_view[1])
    if live_alerts is not None and live_alerts.empty:
        st.caption("CCTV alerts: no live camera alert started in these dates.")
    elif kept is not None:
        if alert_legend:
            st.markdown(maps.legend_html(alert_legend, f"CCTV alerts by {colour_by}"), unsafe_allow_html=True)
        st.caption(f"CCTV alerts: {len(kept):,} of the {len(live_alerts):,} that started in these dates.")
        # st.table, not st.dataframe: its toolbar's CSV download could not be audited; the button below is.
        st.table(alert_table(kept), hide_index=True, height="content" if len(kept) <= ALERT_TABLE_ROWS else 420)
        st.download_button(
            f"Download the {len(kept):,} alerts listed (CSV)",
            lambda: alert_map.alerts_csv(con, user, kept.loc[:, ALERT_COLUMNS], f.start, f.end),
            f"cctv-alerts-{f.start}-{f.end}.csv",
            "text/csv",
            key="map_alert_csv",
            on_click="ignore",
        )
    if "Points" in shown and total > MAX_POINTS:
        st.caption(f"Points: a sample of {MAX_POINTS:,} of the {total:,} incidents.")
    if not online:
        st.caption(tiles.map_caption(basemap))
with tab_leaflet:
    # Built only when asked for: the download is rare.
    st.download_button(
        "Download this map as a Leaflet HTML file",
        lambda: exports.leaflet_html(con, user.username, counts, context["bounds"], basemap, res),
        "crimeviz-map.html",
        "text/html",
        key="leaflet_html",
        on_click="ignore",
    )
    if online:
        st_folium(
            leaflet.folium_map(counts, context["bounds"], basemap),
            height=500,
            use_container_width=True,
            returned_objects=[],
            key="leaflet_map",
        )

playback.panel(con, user, f, res, names, context, st.session_state.get("map_area_layer") if area_map else None)

cell_counts = dict(zip(counts["cell"], counts["n"]))
choices = counts["cell"].head(50).tolist()
if cell and cell not in choices:
    choices.insert(0, cell)
st.subheader("Cell detail")
if moved_from and moved_from != cell:
    st.info(
        f"The resolution changed: the detail shows {selection.label(cell, cell_counts, names)}, the cell that "
        f"covers {moved_from}."
        if cell
        else f"The resolution changed and no part of {moved_from} has incidents at resolution {res}: pick a cell."
    )
cell = st.selectbox(
    "Cell",
    choices,
    index=None,
    key="map_cell",
    format_func=lambda c: selection.label(c, cell_counts, names),
    placeholder="Click a hexagon on the map, or pick one of the 50 busiest cells",
)
share.publish("map", SHARED)  # a hexagon clicked on the map in this run
if cell is None:
    st.stop()
detail = queries.cell_detail(con, f, res, cell)
n_cell = int(detail["by_offence"]["n"].sum())
st.markdown(f"**{cell}** · {n_cell:,} incidents · {grid.cell_area_km2([grid.to_int(cell)])[0]:.2f} km²")
a, b = st.columns(2)
a.plotly_chart(charts.bar_chart(detail["by_offence"], "offence", "n", "By offence"), key="cell_offence")
b.plotly_chart(charts.bar_chart(detail["premises"].head(10), "premises", "n", "Top premises"), key="cell_premises")
a.plotly_chart(charts.hour_weekday_heatmap(detail["hour_weekday"]), key="cell_hours")
b.plotly_chart(charts.monthly_chart(detail["monthly"], "Monthly trend"), key="cell_monthly")
st.download_button(
    f"Download the {n_cell:,} incidents in this cell (CSV)",
    lambda: exports.cell_csv(con, user.username, f, res, cell),
    f"incidents-{cell}.csv",
    "text/csv",
    key="cell_csv",
    on_click="ignore",
)
