"""Streamlit glue shared by the pages: the store connection and the sidebar filter.

Only widget code lives here; every query and figure comes from the rest of ``crimeviz``.
"""

from datetime import timedelta

import streamlit as st

from crimeviz import config, db, queries
from crimeviz.filters import WEEKDAYS, IncidentFilter

FILTER_KEYS = ("f_dates", "f_offences", "f_premises", "f_neigh", "f_hours", "f_midnight", "f_weekdays")


@st.cache_resource(show_spinner="Opening the incident database…")
def _store(path: str):
    return db.open_store(path)


def connection():
    """A cursor on the app's DuckDB store (one shared connection, a cursor per rerun)."""
    try:
        return _store(str(config.db_path())).cursor()
    except db.StoreUnavailable as exc:
        st.error(f"The incident database cannot be opened: {exc}.")
        st.stop()


def data_version(con) -> int:
    """Changes whenever an import lands, so cached query results are refreshed."""
    return con.execute("SELECT coalesce(max(import_id), 0) FROM imports").fetchall()[0][0]


@st.cache_data(show_spinner=False)
def _options(version: int) -> dict:
    return queries.options(connection())


def options(con) -> dict:
    return _options(data_version(con))


def keep_filters() -> None:
    """Keep the sidebar filter when the analyst moves between pages."""
    for key in FILTER_KEYS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def sidebar_filter(con) -> IncidentFilter | None:
    """Draw the filter in the sidebar; ``None`` (with a message shown) if it is unusable."""
    keep_filters()
    st.session_state.setdefault("f_hours", (0, 23))
    opts = options(con)
    first, last = opts["first_date"], opts["last_date"]
    if first is None:
        st.warning("The database holds no incidents yet: import some on the Data page.")
        return None
    st.session_state.setdefault("f_dates", (max(first, last - timedelta(days=364)), last))
    st.session_state.setdefault("f_weekdays", list(WEEKDAYS))
    with st.sidebar:
        st.header("Filter")
        dates = st.date_input("Dates", min_value=first, max_value=last, key="f_dates", format="YYYY-MM-DD")
        offences = st.multiselect("Offences", opts["offences"], key="f_offences", placeholder="All offences")
        premises = st.multiselect("Premises", opts["premises"], key="f_premises", placeholder="All premises")
        neigh = st.multiselect("Neighbourhoods", opts["neighbourhoods"], key="f_neigh",
                               placeholder="All neighbourhoods")
        hours = st.slider("Hours of day", 0, 23, key="f_hours")
        midnight = st.toggle("Across midnight (hours outside the range)", key="f_midnight",
                             help="For night shifts: e.g. range 6–21 with this on keeps 22:00–05:59.")
        weekdays = st.multiselect("Weekdays", list(WEEKDAYS), key="f_weekdays")
    if not isinstance(dates, (tuple, list)) or len(dates) != 2:
        st.info("Pick an end date for the date range in the sidebar.")
        return None
    hour_range = (hours[1] + 1, hours[0] - 1) if midnight else tuple(hours)
    if midnight and (hours[0] == 0 or hours[1] == 23):
        st.error("'Across midnight' needs a range that excludes midnight, e.g. 6–21.")
        return None
    f = IncidentFilter(dates[0], dates[1], tuple(offences) or None, tuple(premises) or None,
                       tuple(neigh) or None, hour_range, tuple(WEEKDAYS.index(d) for d in weekdays))
    problems = f.problems()
    if problems:
        st.error("The filter cannot be used: " + "; ".join(problems) + ".")
        return None
    return f


def describe(f: IncidentFilter) -> str:
    parts = [queries.period_label(f.start, f.end)]
    for name, values in (("offences", f.offences), ("premises", f.premises), ("neighbourhoods", f.neighbourhoods)):
        if values:
            parts.append(f"{len(values)} {name}" if len(values) > 3 else ", ".join(values))
    if f.hours != (0, 23):
        parts.append(f"hours {f.hours[0]:02d}–{f.hours[1]:02d}")
    if len(f.weekdays) < 7:
        parts.append(" ".join(WEEKDAYS[d] for d in f.weekdays))
    return " · ".join(parts)
