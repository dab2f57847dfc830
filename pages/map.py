"""Map: incidents per H3 cell with filters, context layers and a cell detail panel."""

import streamlit as st
from streamlit_folium import st_folium

from crimeviz import config
from crimeviz.explore import charts, leaflet, maps
from crimeviz.store import grid, queries
from crimeviz.web import overlays, ui

user, con, f = ui.filtered_page("Incident map")

left, right = st.columns([2, 3])
res = left.radio(
    "H3 resolution",
    [7, 8, 9],
    index=1,
    horizontal=True,
    key="map_res",
    help="7 ≈ 5.2 km², 8 ≈ 0.74 km², 9 ≈ 0.11 km² per cell",
)
shown = right.multiselect(
    "Layers",
    ["Hexagons", "Heatmap", "Points", "Neighbourhoods", "Street-view deviance", "CCTV reports"],
    default=["Hexagons", "Neighbourhoods", "Street-view deviance", "CCTV reports"],
    key="map_layers",
)

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

context = ui.map_context(con)
layers = [context["outline"]]
legend = None
if "Hexagons" in shown:
    hexes, legend = maps.count_layer(counts, ui.neighbourhood_names(con, res))
    layers.append(hexes)
if "Heatmap" in shown or "Points" in shown:
    points = queries.points(con, f)
    if "Heatmap" in shown:
        layers.append(maps.heatmap_layer(points))
    if "Points" in shown:
        layers.append(maps.point_layer(points))
if "Neighbourhoods" in shown:
    layers.append(context["neighbourhoods"])
extra = {
    "Street-view deviance": lambda: overlays.deviance_layer(con),
    "CCTV reports": lambda: overlays.cctv_layer(con, f),
}
for name, build in extra.items():
    if name in shown and (layer := build()) is not None:
        layers.append(layer)

online = config.basemap() != "none"
# Without a basemap there is no Leaflet view to show (it needs tiles), so no tabs: the download
# sits under the map, and the page has fewer elements to redraw on every filter change.
tab_deck, tab_leaflet = st.tabs(["Map", "Leaflet (Folium) view"]) if online else (st.container(),) * 2
with tab_deck:
    deck = maps.deck(layers, maps.view_for(context["bounds"]), config.basemap())
    event = st.pydeck_chart(deck, on_select="rerun", selection_mode="single-object", key="incident_map")
    if legend:
        st.markdown(maps.legend_html(legend, "Incidents per cell"), unsafe_allow_html=True)
    if any(layer.id == "deviance-scores" for layer in layers):
        st.markdown(
            maps.legend_html(
                [(f"class {c}", "rgb({},{},{})".format(*rgb)) for c, rgb in maps.DEVIANCE_COLOURS.items()],
                "DevianceNet class (street-view sequences)",
            ),
            unsafe_allow_html=True,
        )
    if not online:
        st.caption(
            "Offline map: city outline and neighbourhood boundaries derived from the data (hover a hexagon "
            "for its neighbourhood), no basemap tiles (set CRIMEVIZ_BASEMAP=carto for a CARTO basemap and "
            "a Leaflet view with OpenStreetMap tiles when online). The Leaflet download has no tiles either."
        )
with tab_leaflet:

    def leaflet_map():
        return leaflet.folium_map(counts, context["bounds"], config.basemap())

    # Built only when asked for: the download is rare.
    st.download_button(
        "Download this map as a Leaflet HTML file",
        lambda: leaflet_map().get_root().render(),
        "crimeviz-map.html",
        "text/html",
        key="leaflet_html",
        on_click="ignore",
    )
    if online:
        st_folium(leaflet_map(), height=500, use_container_width=True, returned_objects=[], key="leaflet_map")

clicked = (event.selection.objects.get("incident-hexes") if event and event.selection else None) or []
if clicked and st.session_state.get("map_clicked") != clicked[0]["cell"]:
    st.session_state["map_clicked"] = st.session_state["map_cell"] = clicked[0]["cell"]
choices = counts["cell"].head(50).tolist()
if st.session_state.get("map_cell") and st.session_state["map_cell"] not in choices:
    choices.insert(0, st.session_state["map_cell"])
st.subheader("Cell detail")
cell = st.selectbox(
    "Cell",
    choices,
    index=None,
    key="map_cell",
    placeholder="Click a hexagon on the map, or pick one of the 50 busiest cells",
)
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
    lambda: queries.incidents(con, f, res, cell).to_csv(index=False),
    f"incidents-{cell}.csv",
    "text/csv",
    key="cell_csv",
    on_click="ignore",
)
