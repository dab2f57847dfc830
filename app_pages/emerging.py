"""Emerging hot spots: Esri's categories from Gi* per time slice and a Mann-Kendall trend per cell."""

import streamlit as st

from crimeviz import config
from crimeviz.explore import emerging, maps
from crimeviz.web import ui

user, con, f = ui.filtered_page("Emerging hot spots")
st.caption(ui.describe(f))
store_path, version = str(config.db_path()), ui.data_version(con)


@st.cache_data(show_spinner="Building the space-time cube…", max_entries=16)
def analyse(store_path: str, version: int, filter_key: str, _f, res: int, slice_by: str, k: int, alpha: float):
    return emerging.for_filter(ui.connection(), _f, res, slice_by, k, alpha)


a, b, c, d = st.columns(4)
res = a.radio("H3 resolution", [7, 8, 9], index=1, horizontal=True, key="eh_res")
slice_by = b.radio("Time slice", list(emerging.SLICES), horizontal=True, key="eh_slice", format_func=str.capitalize)
k = c.selectbox("Neighbourhood (k-ring)", [1, 2, 3], key="eh_k", help="Cells within k steps count as neighbours")
alpha = d.selectbox("Significance", [0.01, 0.05, 0.10], index=1, key="eh_alpha", help="FDR of the bins; trend level")
try:
    result = analyse(store_path, version, repr(f), f, res, slice_by, k, alpha)
except ValueError as exc:
    st.error(f"The analysis cannot run: {exc}.")
    st.stop()

table = result.table()
summary = result.summary()
first, last = result.slices[0][0], result.slices[-1][1]
m1, m2, m3 = st.columns(3)
m1.metric("Cells analysed", f"{len(result.cells):,}")
m2.metric(f"{slice_by.capitalize()}s", len(result.slices))
m3.metric("Cells with a pattern", f"{len(table) - summary.get(emerging.NO_PATTERN, 0):,}")
st.markdown(
    f"Every cell with an incident from {first:%d %b %Y} to {last:%d %b %Y} is a location of the space-time cube; "
    f"Gi* is computed in each {slice_by} over the cell's k-ring, and a bin is a **significant** hot or cold spot "
    f"when its p-value passes the Benjamini–Hochberg correction at {alpha:.0%} within its {slice_by}. The "
    "Mann-Kendall test on each cell's Gi* z-scores tells whether clustering rises or falls. The categories "
    "follow Esri's *How Emerging Hot Spot Analysis works* (at least 90 % of the slices for persistent, "
    "intensifying, diminishing and historical)."
)

patterned = [cat for cat in summary if cat != emerging.NO_PATTERN]
chosen = st.multiselect(
    "Categories", list(summary), default=patterned, key="eh_categories", placeholder="All categories"
)
shown = table[table["category"].isin(chosen or list(summary))]
names = ui.neighbourhood_names(con, res)
context = ui.map_context(con)
layers = [context["outline"]]
if not shown.empty:
    layers.append(emerging.category_layer(shown, names))
st.pydeck_chart(maps.deck(layers, maps.view_for(context["bounds"]), config.basemap()), key="eh_map")
st.markdown(
    maps.legend_html(
        [(f"{cat} ({summary[cat]:,})", "rgb({},{},{})".format(*emerging.COLOURS[cat])) for cat in summary],
        "Emerging hot spot category (cells)",
    ),
    unsafe_allow_html=True,
)
st.dataframe(
    emerging.people_table(result, names).loc[shown.index],
    hide_index=True,
    key="eh_table",
)
report = emerging.report(result, f.start, f.end, f.offences)
st.download_button(
    "Download the report (JSON)",
    lambda: emerging.export_json(con, user.username, report),
    file_name=f"emerging_hot_spots_{f.start}_{f.end}.json",
    mime="application/json",
    key="eh_download",
    on_click="ignore",
)
