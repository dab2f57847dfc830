"""Areas: incidents per area of a layer (beats, divisions, wards, custom zones) for the sidebar's filter;
administrators import, check and remove layers."""

import streamlit as st

from crimeviz.geo import layers
from crimeviz.store import areas, audit, safe_csv
from crimeviz.web import ui

user, con, f = ui.filtered_page("Areas")
ui.write_notice()
admin = user.may("data")
names = areas.layer_names(con)

if not names:
    st.info("No area layers yet. " + ("Import one below." if admin else "An administrator imports them."))
else:
    catalogue = areas.layers(con).set_index("layer")
    if pick := st.session_state.pop("areas_pick", None):  # the layer just imported
        st.session_state["areas_layer"] = pick
    layer = st.selectbox("Layer", names, key="areas_layer")
    if catalogue.loc[layer, "derived"]:
        st.caption(
            "Derived from the incidents, not official boundaries: each neighbourhood is the H3 cells "
            "(resolution 8) where most incidents name it."
        )
    table, outside = areas.counts(con, layer, f)
    st.caption(ui.describe(f))
    a, b, c = st.columns(3)
    a.metric("Areas", f"{len(table):,}")
    b.metric("Incidents in areas", f"{int(table['incidents'].sum()):,}")
    c.metric("Outside every area", f"{outside:,}")
    table["per_km2"] = (table["incidents"] / table["area_km2"]).round(1)
    st.dataframe(table.round({"area_km2": 3}), hide_index=True, key="areas_counts")
    if st.download_button(
        "Counts as CSV", safe_csv.to_csv_bytes(table), f"areas-{f.start}-{f.end}.csv", "text/csv", key="areas_csv"
    ):
        audit.record(con, user.username, "areas.export", "area_layer", layer, {"start": f.start, "end": f.end})
    st.caption(
        "A point on a boundary belongs to the area whose outline it lies on; on an edge shared by two areas "
        "(or where areas overlap) it goes to the area whose name sorts first. Points in a hole are outside."
    )

if not admin:
    st.stop()

st.subheader("Layers")
if report := st.session_state.pop("areas_report", None):
    if report["incidents"] and report["outside"] == report["incidents"]:
        st.warning(
            "No incident lies in any area of this layer: check that the file's coordinate system is "
            "right, or import the incidents of the place it covers."
        )
    if report["repaired"]:
        st.warning(f"{len(report['repaired'])} invalid polygon(s) were repaired:")
        st.dataframe(report["repaired"], hide_index=True, key="areas_repaired")
    if report["overlaps"]:
        st.warning(f"{len(report['overlaps'])} pair(s) of areas overlap; their shared incidents count once:")
        st.dataframe(report["overlaps"], hide_index=True, key="areas_overlaps")
if names:
    st.dataframe(areas.layers(con), hide_index=True, key="areas_layers")
    a, b = st.columns([3, 1], vertical_alignment="bottom")
    doomed = a.selectbox("Remove a layer", names, key="areas_remove_layer")
    if b.button("Remove", key="areas_remove"):
        areas.remove_layer(con, doomed, user.username)
        ui.rerun_after_write(f"Removed the layer {ui.plain(repr(doomed))}.")

st.markdown(
    "**Import a layer** — a GeoJSON, a zipped Shapefile or a GeoPackage of polygons in any coordinate "
    "system. It replaces a layer of the same name; every incident is joined to it."
)
upload = st.file_uploader("Polygon file", type=["geojson", "json", "zip", "gpkg"], key="areas_upload")
if upload is None:
    st.stop()
path = ui.save_upload(upload, "areas")
if path is None:
    st.stop()
try:
    choices = layers.source_layers(path)
    source_layer = st.selectbox("Layer in the file", choices, key="areas_source_layer") if len(choices) > 1 else None
    frame = layers.read(path, source_layer)
except layers.LayerRejected as exc:
    st.error(f"Cannot import this file: {ui.plain(exc)}")
    st.stop()
st.markdown(f"**Preview** — {len(frame):,} features, CRS {ui.plain(layers.crs_label(frame.crs))}")
st.dataframe(frame.drop(columns=frame.geometry.name).head(20), key="areas_preview")
with st.form("areas_import"):
    field = st.selectbox("Field that names each area", layers.name_fields(frame), key="areas_name_field")
    name = st.text_input("Layer name", value=path.stem, key="areas_layer_name")
    repair = st.checkbox("Repair invalid polygons (otherwise refuse the file)", value=True, key="areas_repair")
    submitted = st.form_submit_button("Import", type="primary")
if submitted:
    try:
        with st.spinner("Checking the polygons and joining the incidents…"):
            result = areas.import_layer(con, path, name, field, user.username, source_layer, repair)
    except layers.LayerRejected as exc:
        st.error(f"Nothing was imported: {ui.plain(exc)}")
    else:
        st.session_state["areas_report"] = {**result, **result["report"]}
        st.session_state["areas_pick"] = result["layer"]
        ui.rerun_after_write(
            f"Imported {result['areas']:,} areas as {ui.plain(repr(result['layer']))}: {result['incidents']:,} incidents joined, "
            f"{result['outside']:,} outside every area."
        )
