"""Bulletin: the printable CompStat-style brief of the days up to a date, as a PDF."""

from datetime import timedelta

import streamlit as st

from crimeviz.bulletin import brief
from crimeviz.web import ui

user = ui.require("incidents")
st.title("Bulletin")
con = ui.connection()
opts = ui.options(con)
first, last = opts["first_date"], opts["last_date"]
if first is None:
    st.warning("The database holds no incidents yet: import some on the Data page.")
    st.stop()

RECORDED = "Neighbourhoods recorded on the incidents"
a, b, c = st.columns(3)
day = a.date_input("Last day", last, first, last, key="bul_date", format="YYYY-MM-DD")
period = b.selectbox("Period (days)", [7, 14, 28], key="bul_period")
grouping = c.selectbox("Areas of the CompStat tables", [RECORDED, *ui.area_catalogue(con)], key="bul_layer")
layer = None if grouping == RECORDED else grouping
st.markdown(
    f"The bulletin covers the {period} days to {day:%a %d %b %Y}: incidents against the period before (and the "
    f"last 28 days against the 28 before), per offence and per area; Gi* hot spots of the last "
    f"{brief.HOTSPOT_DAYS} days with a map; the forecast of the next day; near-repeat chains; cells and areas "
    "whose last 7 days are spikes; and the CCTV reviews of the period that raised alerts."
)
hidden = [what for what, permission in (("forecast", "forecasts"), ("CCTV alerts", "cctv")) if not user.may(permission)]
if hidden:
    st.caption(f"Your role ({user.role}) may not see: {', '.join(hidden)}; the bulletin says so in their place.")

made = st.session_state.get("bul_made")
if st.button("Make the bulletin", type="primary", key="bul_make"):
    try:
        with st.spinner("Counting, testing and drawing…"):
            pdf, bulletin = brief.export(con, user, day, period, layer=layer)
    except ValueError as exc:
        st.error(f"The bulletin cannot be made: {exc}.")
        st.stop()
    made = {
        "pdf": pdf,
        "name": f"bulletin_{day}_{period}d.pdf",
        "incidents": int(bulletin.windows["current"].iloc[0]),
        "previous": int(bulletin.windows["previous"].iloc[0]),
        "hot": len(bulletin.hot),
        "spikes": int(bulletin.spike_cells["spike"].sum()),
        "for": (day, period, layer),
    }
    st.session_state["bul_made"] = made
if made and made["for"] == (day, period, layer):
    m1, m2, m3 = st.columns(3)
    m1.metric(
        f"Incidents, last {period} days",
        f"{made['incidents']:,}",
        f"{made['incidents'] - made['previous']:+,} vs the {period} before",
        delta_color="inverse",
    )
    m2.metric("Hot spots (28 days)", made["hot"])
    m3.metric("Spike cells (7 days)", made["spikes"])
    st.download_button("Download the bulletin (PDF)", made["pdf"], made["name"], "application/pdf", key="bul_download")
    st.caption(f"Made for the period {day - timedelta(days=period - 1)} to {day}; the export is in the audit trail.")
