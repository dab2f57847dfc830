"""Trends: series with year-over-year comparison, hour×weekday, seasonality, offence mix, CompStat per
neighbourhood or per area of a layer."""

import streamlit as st

from crimeviz.explore import area_maps, charts, people
from crimeviz.store import areas, persons, queries
from crimeviz.web import area_views, share, ui

user, con, f = ui.filtered_page("Trends")
st.caption(ui.describe(f))
if queries.total(con, f) == 0:
    st.warning(ui.NO_MATCH)
    st.stop()

RECORDED = "Neighbourhoods recorded on the incidents"
ui.link_notes(share.page_state("trends", share.trend_fields([RECORDED, *ui.area_catalogue(con)])))
freq = st.radio("Series", ["Daily", "Weekly", "Monthly"], horizontal=True, key="trend_freq")
series = queries.series(con, f, freq[0])
now, before = int(series["n"].sum()), int(series["n_last_year"].sum())
c1, c2 = st.columns(2)
c1.metric("Incidents in period", f"{now:,}", f"{now - before:+,} vs year before", delta_color="inverse")
c2.metric("Year before", f"{before:,}")
st.plotly_chart(charts.series_chart(series, freq[0], f.start, f.end), key="trend_series")

a, b = st.columns(2)
a.plotly_chart(charts.hour_weekday_heatmap(queries.hour_weekday(con, f)), key="trend_hours")
b.plotly_chart(charts.seasonal_chart(queries.seasonal(con, f)), key="trend_seasonal")
st.plotly_chart(charts.offence_mix_chart(queries.offence_mix(con, f)), key="trend_mix")

group = st.selectbox(
    "Group by area",
    [RECORDED, *ui.area_catalogue(con)],
    key="trend_group",
    help="The neighbourhood each incident names, or the areas of a layer (beats, divisions, wards) it lies in.",
)
by_layer = group != RECORDED
st.subheader(("Areas of the layer: " if by_layer else "Neighbourhoods: ") + "change vs the previous period")
if by_layer:
    st.plotly_chart(area_maps.area_series_chart(areas.monthly(con, group, f)), key="trend_areas")
    if note := area_views.derived_note(group):
        st.caption(note)
st.caption(f"Windows end on {f.end:%d %b %Y}, the last day of the filter; the other filter choices apply.")
for days, column in zip((28, 365), st.columns(2)):
    table = areas.compstat(con, group, f, days) if by_layer else queries.neighbourhood_change(con, f, days)
    column.markdown(f"**Last {days} days vs the {days} before**")
    column.dataframe(
        table,
        hide_index=True,
        key=f"compstat_{days}",
        column_config={
            "pct_change": st.column_config.NumberColumn("% change", format="%+.1f%%"),
            "change": st.column_config.NumberColumn("Change", format="%+d"),
        },
    )

if persons.recorded(con):
    st.subheader("Victims and accused: counts only")
    st.caption(people.NOTE)
    role = st.radio("People", list(persons.ROLES), horizontal=True, key="trend_people_role", format_func=str.capitalize)
    shown = {c: t for c, t in persons.BREAKDOWNS.items() if role == "accused" or c != "relation"}
    for column, (name, title) in zip(st.columns(len(shown)), shown.items()):
        table = persons.breakdown(con, f, role, name)
        column.plotly_chart(people.people_chart(table, title), key=f"trend_people_{name}")
        column.dataframe(table[["value", "shown"]], hide_index=True, key=f"trend_people_table_{name}")
