"""Forecast: next-day hotspots from CDNA or a baseline, the day's outcome, and the 2021 backtest."""

import streamlit as st

from crimeviz.explore import area_maps, maps
from crimeviz.forecast import areas as forecast_areas
from crimeviz.forecast import shifts, views
from crimeviz.forecast.frames import ALL
from crimeviz.forecast.predict import METHODS, forecast_for_date, unseen_warning
from crimeviz.store import queries
from crimeviz.store.filters import IncidentFilter
from crimeviz.web import area_views, share, tiles, ui

user = ui.require("forecasts")
st.title("Next-day hotspot forecast")
con = ui.connection()
opts = ui.options(con)
last = opts["last_date"]
if last is None:
    st.warning("The database holds no incidents to forecast from.")
    st.stop()

shift_names = {s.name: s for s in shifts.configured()}
groups = [ALL, *opts["offences"]]
SHARED = share.forecast_fields(opts["first_date"], views.next_day(last), groups, list(METHODS), list(shift_names))
ui.link_notes(share.sync("forecast", SHARED))  # day, offences, method, area and shift in the URL
st.session_state.setdefault("fc_day", views.next_day(last))
st.session_state.setdefault("fc_cov", 0.05)
if st.button(
    f"Forecast tomorrow ({views.next_day(last):%a %d %b %Y}, the day after the latest data)", key="fc_tomorrow"
):
    st.session_state["fc_day"] = views.next_day(last)
a, b, e, c, d = st.columns([2, 2, 2, 3, 2])
day = a.date_input(
    "Day", key="fc_day", min_value=opts["first_date"], max_value=views.next_day(last), format="YYYY-MM-DD"
)
shift = e.selectbox(
    "Shift",
    [None, *shift_names],
    key="fc_shift",
    format_func=lambda s: "Whole day" if s is None else shift_names[s].label,
    help="A night shift runs past midnight: its small hours count on the day it began.",
)
group = b.selectbox("Offences", groups, key="fc_group", format_func=lambda g: "All offences" if g == ALL else g)
method = c.selectbox("Method", list(METHODS), key="fc_method", format_func=METHODS.get)
coverage = d.select_slider(
    "Area flagged", [0.01, 0.02, 0.05, 0.10, 0.20], key="fc_cov", format_func=lambda v: f"{v:.0%}"
)
share.publish("forecast", SHARED)  # "Forecast tomorrow" changed the day in this run

area_layer, within = area_views.area_picker(
    con, "fc_areas", "Flag only within areas", "Cells whose centre lies in these areas are flagged and scored."
)
try:
    with st.spinner("Forecasting…"):
        forecast = forecast_for_date(con, day, group, method, shift=shift)
except FileNotFoundError as exc:
    st.error(f"No forecast: {exc}. The other methods need no checkpoint: choose one under Method.")
    st.stop()
except ValueError as exc:
    st.error(f"No forecast: {exc}.")
    st.stop()
if within:
    try:
        forecast = forecast_areas.within(con, forecast, area_layer, within)
    except ValueError as exc:
        st.error(f"No forecast: {exc}.")
        st.stop()
flagged = views.flag_top(forecast, coverage)
meta = forecast.attrs
past = day <= last
actual = None
if past:
    offences = None if group == ALL else (group,)
    if shift is None:
        actual = queries.hex_counts(con, IncidentFilter(day, day, offences), 8)
    else:
        actual = shifts.shift_counts(con, 8, shift_names[shift], day, list(offences) if offences else None)
if actual is not None and within:
    actual = forecast_areas.actual_within(actual, forecast)
st.caption(
    f"{METHODS[method]} · {shift_names[shift].label + ' shift' if shift else 'whole day'}"
    f" · data until {meta['data_until']} · {meta['lead']} day(s) ahead"
    + (f" · checkpoint {meta['checkpoint']}" if "checkpoint" in meta else "")
)
warning = unseen_warning(meta["unseen"]) if "unseen" in meta else None
if warning:
    unseen = meta["unseen"]
    (st.warning if unseen["outside_incidents"] >= 0.01 * unseen["incidents"] else st.info)(warning)
    with st.expander("Retrain CDNA for the data at hand"):
        st.caption(
            "Train a checkpoint on the store (a progress bar shows the batches of each epoch), then run the app with it:"
        )
        st.code(views.retrain_command(opts["first_date"], last), language="bash")

m1, m2, m3, m4, m5 = st.columns(5)
m1.metric("Expected incidents (areas)" if within else "Expected incidents (city)", f"{forecast['intensity'].sum():.0f}")
m2.metric("Cells flagged", f"{int(flagged['flagged'].sum())} of {len(flagged)}")
m3.metric(
    "Expected in flagged cells",
    f"{flagged.loc[flagged['flagged'], 'intensity'].sum() / forecast['intensity'].sum():.0%}",
)
if actual is not None:
    score = views.day_score(flagged, actual)
    m4.metric("Actual hit rate that day", f"{score['hits']:.0f} of {score['incidents']}")
    m5.metric(
        "PAI that day",
        f"{score['pai']:.1f}" if score["incidents"] else "–",
        help="Hit rate divided by the share of the area flagged (1 = no better than chance)",
    )

layer, legend = views.hotspot_layer(flagged, actual)
context = ui.map_context(con)
layers = [context["outline"], layer]
if within:
    layers.append(area_maps.outline_layer(area_views.features(con, area_layer), within))
if past and shift is None and st.toggle("Show that day's incidents", value=True, key="fc_actual"):
    points = queries.points(con, IncidentFilter(day, day, None if group == ALL else (group,)))
    layers.append(maps.point_layer(points))
st.pydeck_chart(maps.deck(layers, maps.view_for(context["bounds"]), tiles.basemap(con)), key="fc_map")
st.markdown(maps.legend_html(legend, "Forecast (flagged hotspots drawn solid, the rest faint)"), unsafe_allow_html=True)

result = views.shift_result(views.backtest(), shift)
st.subheader("Backtest: every day of 2021" + (f", {shift_names[shift].label} shifts" if shift else ""))
if result is None:
    st.info(f"The committed backtest has no {shift} shift (it was run with other shifts): the whole day is shown.")
    result = views.backtest()
st.caption(
    "Each forecast uses only incidents strictly before its day; models and baseline settings were "
    "chosen on 2020 only. Valid area: cells with at least one incident up to 2019. Hit rate: the share "
    "of the day's incidents in flagged cells; PAI: hit rate divided by the share of the area flagged."
)
group_key = group if group in result["groups"] else ALL
left, right = st.columns(2)
left.plotly_chart(views.curve_figure(result, group_key, "hit_rate"), key="fc_hit_curve")
right.plotly_chart(views.curve_figure(result, group_key, "pai"), key="fc_pai_curve")
table = views.backtest_table(result, group_key)
st.dataframe(
    table,
    hide_index=True,
    key="fc_table",
    column_config={
        k: st.column_config.NumberColumn(format="%.2f" if k.startswith("PAI") else "%.3f") for k in table.columns[1:]
    },
)

st.markdown("**Is the learned model really better?** A paired bootstrap over the days of 2021")
for sentence in views.bootstrap_verdicts(result, group_key):
    st.write(sentence)
comparison = views.bootstrap_table(result, group_key)
if comparison.empty:
    st.caption("This backtest has no bootstrap comparison: run `python -m crimeviz forecast evaluate` again.")
else:
    st.dataframe(
        comparison,
        hide_index=True,
        key="fc_bootstrap",
        column_config={k: st.column_config.NumberColumn(format="%+.3f") for k in comparison if k.startswith("ΔPAI")},
    )
    st.caption(
        "ΔPAI: the method's mean daily PAI minus the best baseline's (the baseline with the highest mean PAI "
        "over the same days, chosen with hindsight, which favours the baseline). Interval: 95% percentile "
        "interval from resampling the days with replacement (the same days for every method); an interval "
        "wholly above zero means better by more than day-to-day chance explains."
    )

with st.expander("Model card: data, training, metrics, limitations and cautions"):
    st.markdown(views.MODEL_CARD.read_text())
