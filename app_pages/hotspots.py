"""Hotspots: Getis-Ord Gi* on the H3 grid and a quartic-kernel density surface, city-wide or inside
the areas picked in the sidebar."""

import streamlit as st

from crimeviz.explore import area_maps, hotspots, maps
from crimeviz.store import areas, queries
from crimeviz.web import area_views, share, tiles, ui

user, con, f = ui.filtered_page("Hotspot statistics")
ui.link_notes(share.page_state("hotspots", share.hotspot_fields()))  # the settings below in the URL
st.caption(ui.describe(f))

a, b, c, d = st.columns(4)
res = a.radio("H3 resolution", [7, 8, 9], horizontal=True, key="hot_res")
k = b.selectbox("Neighbourhood (k-ring)", [1, 2, 3], key="hot_k", help="Cells within k steps count as neighbours")
alpha = c.selectbox("False discovery rate", [0.01, 0.05, 0.10], key="hot_alpha")
bandwidth = d.slider("Kernel bandwidth (m)", 200, 3000, step=100, key="hot_bw")
test = st.radio(
    "Significance that colours the map",
    ["Normal approximation", "Permutations"],
    horizontal=True,
    key="hot_test",
    help="The table shows both.",
)

counts = queries.cell_counts(con, f, res)
if counts.sum() == 0:
    st.warning(ui.NO_MATCH)
    st.stop()
if f.areas:  # the analysis stays inside the areas picked in the sidebar
    cells = areas.study_cells(con, f.area_layer, f.areas, res)
    st.caption(
        ui.plain(
            f"Study area: the {len(cells):,} cells holding incidents of {', '.join(f.areas)} ({f.area_layer}); "
            "only the incidents inside these areas count."
        )
    )
else:
    cells = queries.study_cells(con, res)
    st.caption("To restrict the statistics to a division, a beat or any area, pick it under Areas in the sidebar.")
if len(cells) < 3:
    st.warning(
        f"The study area holds {len(cells)} cell(s) at resolution {res}: Gi* needs 3 at least. "
        "Pick more areas or a finer resolution."
    )
    st.stop()
gi = hotspots.gi_star(counts, cells, hotspots.kring_weights(cells, k), alpha)
category = "category" if test == "Normal approximation" else "category_sim"
m1, m2, m3 = st.columns(3)
m1.metric("Cells in study area", f"{len(cells):,}")
m2.metric("Significant hot spots", f"{(gi[category] == 'Hot spot').sum():,}")
m3.metric("Significant cold spots", f"{(gi[category] == 'Cold spot').sum():,}")
st.markdown(
    f"Gi* compares each cell's k-ring total with the mean over the study area. Its two-sided p-value comes from the "
    f"normal approximation and, separately, from {hotspots.PERMUTATIONS:,} conditional permutations (seed "
    f"{hotspots.SEED}; none can give less than {2 / (hotspots.PERMUTATIONS + 1):.2g}). Cells are **significant** when the p-value passes the Benjamini–Hochberg correction "
    f"at a false discovery rate of {alpha:.0%} over all {len(cells):,} cells tested; the map colours those "
    f"of the **{test.lower()}**."
)

context = ui.map_context(con)
view = maps.view_for(context["bounds"])
chosen = [area_maps.outline_layer(area_views.features(con, f.area_layer), f.areas)] if f.areas else []
names = ui.neighbourhood_names(con, res)
tab_gi, tab_kde = st.tabs(["Gi* hot/cold spots", "Kernel density"])
with tab_gi:
    shown = gi[gi[category] != hotspots.NOT_SIGNIFICANT].copy()
    shown["color"] = [[*maps.HOT_COLD[c], 200] for c in shown[category]]
    shown["hood"] = shown["cell"].map(names).fillna("(none recorded)")
    shown["z"] = shown["z"].round(2)
    shown["p_text"] = shown["p" if category == "category" else "p_sim"].map(hotspots.p_label)
    shown["tooltip"] = maps.tooltip_rows(
        shown, {"Neighbourhood": "hood", "Incidents": "n", "Gi* z": "z", "p": "p_text", "Class": category}
    )
    st.pydeck_chart(
        maps.deck([context["outline"], maps.hex_layer(shown, "gi-star"), *chosen], view, tiles.basemap(con)),
        key="gi_map",
    )
    st.markdown(
        maps.legend_html(
            [(k_, "rgb({},{},{})".format(*v)) for k_, v in maps.HOT_COLD.items() if k_ != hotspots.NOT_SIGNIFICANT],
            "Gi*",
        ),
        unsafe_allow_html=True,
    )
    st.dataframe(hotspots.significant_table(gi, names), hide_index=True, key="gi_table")
with tab_kde:
    points = queries.points(con, f, limit=500_000)
    density = hotspots.cell_density(points, cells, bandwidth)
    density = density[density["density_km2"] > 0]
    breaks = maps.class_breaks(density["density_km2"].to_numpy())
    density["color"] = maps.colours_for(density["density_km2"].to_numpy(), breaks)
    density["density"] = density["density_km2"].round(1)
    density["hood"] = density["cell"].map(names).fillna("(none recorded)")
    density["tooltip"] = maps.tooltip_rows(density, {"Neighbourhood": "hood", "Incidents per km²": "density"})
    st.pydeck_chart(
        maps.deck([context["outline"], maps.hex_layer(density, "kernel-density"), *chosen], view, tiles.basemap(con)),
        key="kde_map",
    )
    st.markdown(
        maps.legend_html(
            maps.legend(breaks, "per km²", "{:,.1f}", density["density_km2"].to_numpy()), "Quartic kernel density"
        ),
        unsafe_allow_html=True,
    )
