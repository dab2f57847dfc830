"""Trends: series with year-over-year comparison, hour×weekday, seasonality, offence mix, CompStat."""

import streamlit as st

from crimeviz.explore import charts
from crimeviz.store import queries
from crimeviz.web import ui

user, con, f = ui.filtered_page("Trends")
st.caption(ui.describe(f))
if queries.total(con, f) == 0:
    st.warning(ui.NO_MATCH)
    st.stop()

freq = st.radio("Series", ["Daily", "Weekly", "Monthly"], index=1, horizontal=True, key="trend_freq")
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

st.subheader("Neighbourhoods: change vs the previous period")
st.caption(f"Windows end on {f.end:%d %b %Y}, the last day of the filter; the other filter choices apply.")
for days, column in zip((28, 365), st.columns(2)):
    table = queries.neighbourhood_change(con, f, days)
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
