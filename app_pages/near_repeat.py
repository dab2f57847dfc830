"""Near repeats: the Knox test of Ratcliffe's Near Repeat Calculator for one offence and period."""

from datetime import timedelta

import streamlit as st

from crimeviz import config
from crimeviz.explore import maps, near_repeat
from crimeviz.web import share, tiles, ui

NEAR_REPEAT_COLOUR = "background-color: rgb(244, 165, 130); font-weight: 600"

user = ui.require("incidents")
st.title("Near-repeat analysis")
con = ui.connection()
opts = ui.options(con)
first, last = opts["first_date"], opts["last_date"]
if first is None:
    st.warning("The database holds no incidents yet: import some on the Data page.")
    st.stop()
store_path, version = str(config.db_path()), ui.data_version(con)


@st.cache_data(show_spinner="Counting pairs and permuting dates…", max_entries=16)
def knox(store_path: str, version: int, offence, start, end, d_bands, t_bands, permutations: int, seed: int):
    return near_repeat.for_offence(ui.connection(), offence, start, end, d_bands, t_bands, permutations, seed)


shared = share.near_repeat_fields(opts["offences"], first, last, (max(first, last - timedelta(days=364)), last))
ui.link_notes(share.page_state("near_repeat", shared))  # the settings below in the URL
a, b = st.columns([1, 2])
offence = a.selectbox("Offence", opts["offences"], key="nr_offence")
dates = b.date_input("Dates", min_value=first, max_value=last, key="nr_dates", format="YYYY-MM-DD")
c, d, e, g = st.columns(4)
d_text = c.text_input("Distance bands (m)", key="nr_distance", help="Edges; each band is [a, b)")
t_text = d.text_input("Time bands (days)", key="nr_time", help="Whole days; each band is [a, b)")
permutations = e.selectbox("Permutations", [19, 99, 999], key="nr_permutations")
seed = g.number_input("Seed", 0, 2**31 - 1, key="nr_seed", help="The same seed gives the same permutations")
if not isinstance(dates, (tuple, list)) or len(dates) != 2:
    st.info("Pick an end date for the date range.")
    st.stop()
try:
    d_bands = near_repeat.parse_bands(d_text, "distance")
    t_bands = near_repeat.parse_bands(t_text, "time")
    result, incidents = knox(store_path, version, offence, *dates, d_bands, t_bands, permutations, int(seed))
except ValueError as exc:
    st.error(f"The test cannot run: {exc}.")
    st.stop()

m1, m2, m3 = st.columns(3)
m1.metric("Incidents", f"{result.incidents:,}")
m2.metric("Near-repeat cells", int(near_repeat.is_near_repeat(result.ratio, result.p).sum()))
m3.metric("Chains", f"{len(result.chains):,}")
st.markdown(
    "Pairs of the offence's incidents are counted by distance (great-circle metres) and time "
    f"(whole days between the dates); the expectation is the mean over {permutations} permutations of the dates "
    "among the places. The **Knox ratio** is observed / expected; **shaded** cells are near-repeat patterns "
    f"as the Calculator marks them: at least {near_repeat.NEAR_REPEAT_RATIO:g} times what chance gives, "
    f"with a pseudo p-value of at most {near_repeat.SIGNIFICANCE:g}."
)

shade = near_repeat.matrix(result, near_repeat.is_near_repeat(result.ratio, result.p))
tab_ratio, tab_obs, tab_exp, tab_p, tab_map = st.tabs(["Knox ratio", "Observed", "Expected", "p-value", "Chains map"])
for tab, values, fmt, key in (
    (tab_ratio, result.ratio, "{:.2f}", "nr_ratio"),
    (tab_obs, result.observed, "{:,}", "nr_observed"),
    (tab_exp, result.expected, "{:,.1f}", "nr_expected"),
    (tab_p, result.p, "{:.3f}", "nr_p"),
):
    styled = near_repeat.matrix(result, values).style.format(fmt, na_rep="–")
    tab.dataframe(styled.apply(lambda _: shade.replace({True: NEAR_REPEAT_COLOUR, False: ""}), axis=None), key=key)
with tab_map:
    chains = near_repeat.chain_incidents(result, incidents)
    st.caption(
        f"A chain links incidents paired in the first distance band, "
        f"{near_repeat.band_label(*result.distance_bands[:2], 'm')}, and the first time band, "
        f"{near_repeat.band_label(*result.time_bands[:2], 'days')}; each is drawn in date order. "
        + (
            f"Shown: the {chains['chain'].nunique()} largest of {len(result.chains):,}."
            if result.chains
            else "None here."
        )
    )
    context = ui.map_context(con)
    layers = [context["outline"], *near_repeat.chain_layers(chains)]
    st.pydeck_chart(maps.deck(layers, maps.view_for(context["bounds"]), tiles.basemap(con)), key="nr_map")
    table = chains[["chain", "id", "occurred_on"]].rename(columns={"occurred_on": "date"})
    st.dataframe(table, hide_index=True, key="nr_chains")

report = near_repeat.report(result, offence, *dates)
st.download_button(
    "Download the report (JSON, with chains)",
    lambda: near_repeat.export_json(con, user.username, report),
    file_name=f"near_repeat_{dates[0]}_{dates[1]}.json",
    mime="application/json",
    key="nr_download",
)
