"""Basemap: the tiles under every map. Off by default; administrators import the unit's own raster tiles
(served by this app) or, knowingly, turn on an internet tile URL."""

import pandas as pd
import streamlit as st

from crimeviz.explore import maps
from crimeviz.store import basemap, db
from crimeviz.web import tiles, ui

user = ui.require("data")
con = ui.connection()
st.title("Basemap")
ui.write_notice()

current = basemap.setting(con)
source = tiles.basemap(con)  # shows the notice while an internet URL is on
if current["mode"] == "off":
    st.info(
        "No basemap tiles are stored or enabled: the maps draw only the data's own outlines "
        "(CRIMEVIZ_BASEMAP=carto on the server would fetch CARTO tiles from the internet)."
    )
else:
    what = current["tileset"] if current["mode"] == "local" else current["url"]
    st.markdown(
        f"On: **{ui.plain(current['mode'])}** — {ui.plain(what)} (set by {ui.plain(current['set_by'])}, "
        f"{current['set_at']:%Y-%m-%d %H:%M})"
    )
if isinstance(source, basemap.TileSource) and source.kind == "local" and source.style_url is None:
    st.warning("The tile set lies outside the app's static/ folder, so the maps cannot show it.")
if source != "none" and db.incident_count(con):
    context = ui.map_context(con)
    st.pydeck_chart(
        maps.deck([context["outline"]], maps.view_for(context["bounds"]), source, height=380), key="basemap_preview"
    )
    st.caption(tiles.map_caption(source) if not tiles.leaflet_view(source) else "Preview of the basemap.")

st.subheader("The unit's own tiles")
sets = basemap.tilesets(con)
if sets:
    st.dataframe(pd.DataFrame(sets), hide_index=True, key="basemap_sets")
    a, b = st.columns([3, 1])
    pick = a.selectbox("Tile set", [s["tileset"] for s in sets], key="basemap_pick")
    if b.button("Use this tile set", key="basemap_use"):
        try:
            basemap.use_tileset(con, pick, user.username)
        except basemap.BasemapRejected as exc:
            st.error(ui.plain(exc))
        else:
            ui.rerun_after_write(f"The maps now draw tile set {pick}.")
upload = st.file_uploader("Raster tiles (.mbtiles or .pmtiles)", type=["mbtiles", "pmtiles"], key="basemap_file")
if upload is not None and st.button("Import and use these tiles", key="basemap_import", type="primary"):
    path = ui.save_upload(upload, "basemap")
    if path is not None:
        try:
            with st.spinner("Writing tiles…"):
                result = basemap.import_tiles(con, path, user.username)
        except basemap.BasemapRejected as exc:
            st.error(f"Nothing was imported: {ui.plain(exc)}")
        else:
            ui.rerun_after_write(
                f"Imported {result['tiles']:,} tiles (zoom {result['minzoom']}–{result['maxzoom']}); the maps draw them."
            )

st.subheader("Tiles from the internet")
st.warning(
    "A tile server sees every map position and zoom the analysts look at (and their addresses). "
    "Turn this on only where that is acceptable; every map then says where its tiles come from."
)
url = st.text_input(
    "Tile URL (https, with {z}, {x} and {y})", key="basemap_url", placeholder="https://…/{z}/{x}/{y}.png"
)
attribution = st.text_input("Attribution the provider requires", key="basemap_attribution")
agreed = st.checkbox("I understand that the map views are sent to this server", key="basemap_agree")
if st.button("Use this tile URL", key="basemap_enable", disabled=not (url and agreed)):
    try:
        basemap.enable_url(con, url, user.username, attribution)
    except basemap.BasemapRejected as exc:
        st.error(ui.plain(exc))
    else:
        ui.rerun_after_write("The maps now fetch tiles from the internet, with a notice under each.")

if current["mode"] != "off" and st.button("Turn the basemap off", key="basemap_off"):
    basemap.turn_off(con, user.username)
    ui.rerun_after_write("The maps draw no basemap tiles.")
