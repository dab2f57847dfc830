"""Share links: a page's state (filters, resolution, layers, selected cell, date…) in the URL's query string.

Each page declares its state as :class:`Field` s (a widget key, a URL parameter, a kind, the allowed
values) and calls :func:`sync` before drawing those widgets. ``sync`` either

- *restores*: the URL holds values this session has not published (a link from a colleague, a
  bookmark, an edited address): they go into ``st.session_state`` before the widgets read it, and
  parameters the link leaves out go back to their defaults, so the link shows the same view; values
  that are malformed or not offered to this user (an offence their data lacks, a date out of range)
  are dropped and named in a note; or
- *publishes*: the widgets' current values go into the URL (values equal to the default are left out).

Access stays with the page: a link opens only after sign-in, and only pages the user's role may use
(:mod:`crimeviz.web.navigation`). Saved views keep the query string of a page under a name
(:mod:`crimeviz.store.saved_views`).
"""

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import h3
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from crimeviz.access import auth
from crimeviz.cctv.live import alert_map
from crimeviz.store import saved_views
from crimeviz.web import overlays

PUBLISHED = "_share_published"
EARLIER = "_share_earlier"  # every address this session published, per group
EARLIER_KEPT = 200


@dataclass(frozen=True)
class Field:
    """``key`` (session state / widget) shown as ``param`` in the URL.

    ``kind``: ``date``, ``dates`` (a range ``a..b``), ``int``, ``float``, ``str``, ``h3`` (a cell),
    ``list`` (repeated parameter), ``bool`` or ``range`` (two integers ``a-b``). ``choices`` limits the values (None:
    any); ``low``/``high`` bound dates; ``default`` is what a link without the parameter means
    (None: the key is removed, and the widget falls back to its own default).
    """

    key: str
    param: str
    kind: str
    choices: tuple | None = None
    default: Any = None
    low: Any = None  # smallest allowed date or number
    high: Any = None
    always: bool = False  # published even when equal to the default (the default date range moves with the data)


def encode(field: Field, value) -> list[str]:
    """``value`` as the URL's strings (empty: leave the parameter out)."""
    if value is None or (_same(value, field.default) and not field.always):
        return []
    if field.kind == "dates":
        return [f"{value[0].isoformat()}..{value[1].isoformat()}"] if len(value) == 2 else []
    if field.kind == "date":
        return [value.isoformat()]
    if field.kind == "list":
        return [str(v) for v in value]
    if field.kind == "bool":
        return ["1" if value else "0"]
    if field.kind == "range":
        return [f"{int(value[0])}-{int(value[1])}"]
    if field.kind == "float":
        return [f"{float(value):g}"]
    return [str(value)]


def decode(field: Field, texts: list[str]):
    """The URL's strings as a value for ``field``; ValueError (in words) if malformed or not allowed."""
    if field.kind == "list":
        values = [_typed(field, t) for t in texts]
        bad = [v for v in values if field.choices is not None and v not in field.choices]
        if bad:
            raise ValueError(f"{', '.join(map(str, bad))} not offered")
        return list(dict.fromkeys(values))
    text = texts[-1]
    if field.kind == "dates":
        first, sep, last = text.partition("..")
        if not sep:
            raise ValueError(f"{text!r} is not a date range")
        value = (date.fromisoformat(first), date.fromisoformat(last))
        for day in value:
            _check_day(field, day)
        if value[1] < value[0]:
            raise ValueError(f"{text!r} ends before it starts")
        return value
    if field.kind == "date":
        value = date.fromisoformat(text)
        _check_day(field, value)
        return value
    if field.kind == "bool":
        if text not in ("0", "1"):
            raise ValueError(f"{text!r} is not 0 or 1")
        return text == "1"
    if field.kind == "range":
        first, sep, last = text.partition("-")
        value = (int(first), int(last))
        if not sep or not all(0 <= h <= 23 for h in value) or value[1] < value[0]:
            raise ValueError(f"{text!r} is not an hour range such as 6-21")
        return value
    value = _typed(field, text)
    if field.choices is not None and value not in field.choices:
        raise ValueError(f"{value} not offered")
    return value


def _typed(field: Field, text: str):
    if field.kind == "h3":
        if not h3.is_valid_cell(text):
            raise ValueError(f"{text!r} is not an H3 cell")
        return text.lower()
    if field.kind in ("int", "float"):
        value = int(text) if field.kind == "int" else float(text)
        if (field.low is not None and value < field.low) or (field.high is not None and value > field.high):
            raise ValueError(f"{value} lies outside {field.low} to {field.high}")
        return value
    return text


def _check_day(field: Field, day: date) -> None:
    if (field.low and day < field.low) or (field.high and day > field.high):
        raise ValueError(f"{day} lies outside the data ({field.low} to {field.high})")


def _same(a, b) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b


def url_state(fields: list[Field], params) -> dict[str, list[str]]:
    """The URL's strings for ``fields`` (only the parameters present)."""
    return {f.param: params.get_all(f.param) for f in fields if params.get_all(f.param)}


def sync(group: str, fields: list[Field]) -> list[str]:
    """Restore ``fields`` from the URL when it holds values this session did not publish, else
    publish their current values; returns notes on the link's values that were dropped.

    ``group`` names the set of fields (``filter``, ``map``…): several groups share one URL.
    """
    params = st.query_params
    in_url = url_state(fields, params)
    published = st.session_state.setdefault(PUBLISHED, {})
    notes = []
    # An address this session published before is the browser's echo of an older run (it had not
    # applied the newest address when the next widget change left), not a link: the widgets win.
    if in_url and in_url != published.get(group) and _frozen(in_url) not in _earlier(group):
        for field in fields:
            if field.param not in in_url:
                _set_default(field)
                continue
            try:
                st.session_state[field.key] = decode(field, in_url[field.param])
            except ValueError as exc:
                notes.append(f"{field.param}: {exc}")
                _set_default(field)
        published[group] = in_url
        publish(group, fields)  # drop the values that were refused from the address too
        return notes
    publish(group, fields)
    return notes


def page_state(group: str, fields: list[Field]) -> list[str]:
    """:func:`sync`, then each field's default where the session has no value yet: pages pass no
    ``index``/``value`` to these widgets (Streamlit refuses a default and a restored value together)."""
    notes = sync(group, fields)
    for field in fields:
        if field.default is not None:
            st.session_state.setdefault(field.key, field.default)
    return notes


def _set_default(field: Field) -> None:
    if field.default is None:
        st.session_state.pop(field.key, None)
    else:
        st.session_state[field.key] = field.default


def publish(group: str, fields: list[Field]) -> None:
    """Write the current values of ``fields`` into the URL (a page may call it again after a click
    changed its state during the run, e.g. a hexagon picked on the map)."""
    state = {}
    for field in fields:
        strings = encode(field, st.session_state.get(field.key))
        state[field.param] = strings
    for param, strings in state.items():
        if strings:
            if params_differ(param, strings):
                st.query_params[param] = strings if len(strings) > 1 or _is_list(fields, param) else strings[0]
        elif param in st.query_params:
            del st.query_params[param]
    now = {p: s for p, s in state.items() if s}
    st.session_state.setdefault(PUBLISHED, {})[group] = now
    earlier = _earlier(group)
    earlier.append(_frozen(now))
    del earlier[:-EARLIER_KEPT]


def follow_page() -> dict:
    """The addresses this session published on the page of this run, per group; forgotten when the
    run is on another page than the last (the app calls it on every run, so a return to a page, e.g.
    by a saved view's link, is a move whose address is a link even if the page between published nothing)."""
    ctx = get_script_run_ctx()
    page = ctx.page_script_hash if ctx is not None else ""
    earlier = st.session_state.setdefault(EARLIER, {})
    if earlier.get("page") != page:
        earlier.clear()
        earlier["page"] = page
    return earlier


def _earlier(group: str) -> list:
    """The addresses this session published for ``group`` on the page it is on, oldest first (a
    move to another page starts afresh: :func:`follow_page`)."""
    return follow_page().setdefault(group, [])


def _frozen(state: dict[str, list[str]]) -> tuple:
    return tuple(sorted((param, tuple(strings)) for param, strings in state.items()))


def params_differ(param: str, strings: list[str]) -> bool:
    return st.query_params.get_all(param) != strings


def _is_list(fields: list[Field], param: str) -> bool:
    return any(f.param == param and f.kind == "list" for f in fields)


def query_string() -> str:
    """The current URL's query string (for saved views), parameters in a stable order."""
    params = st.query_params
    return urlencode([(k, v) for k in sorted(params.keys()) for v in params.get_all(k)])


def link(url_path: str, query: str) -> str:
    """A relative link to a page with a saved query string (both URL-safe: the query was urlencoded)."""
    return f"/{url_path}" + (f"?{query}" if query else "")


def notes_message(notes: list[str]) -> str | None:
    """One line naming the link's values this user's view could not take."""
    if not notes:
        return None
    return "Some settings from the link could not be used and were reset: " + "; ".join(notes) + "."


# --- the pages' fields --------------------------------------------------------------------


def map_fields(layers: list[str], default_layers: list[str]) -> list[Field]:
    """The Map's resolution, layers, chosen cell, playback (on, step, frame) and the live alerts' filters
    (types, lowest severity, detection classes) and colouring."""
    return [
        Field("map_res", "res", "int", (7, 8, 9), default=8),
        Field("map_layers", "layers", "list", tuple(layers), default=list(default_layers)),
        Field("map_cell", "cell", "h3"),
        Field("pb_on", "playback", "bool", default=False),
        Field("pb_step", "step", "str", ("day", "week"), default="day"),
        Field("pb_slider", "frame", "int", default=0),
        Field("map_alert_types", "alert_type", "list", default=[]),
        Field("map_alert_severity", "alert_severity", "int", default=1, low=1, high=10),
        Field("map_alert_classes", "alert_class", "list", alert_map.CLASSES, default=list(alert_map.CLASSES)),
        Field(
            "map_alert_colour", "alert_colour", "str", overlays.ALERT_COLOURINGS, default=overlays.ALERT_COLOURINGS[0]
        ),
    ]


def forecast_fields(first: date, last: date, groups: list[str], methods: list[str], shifts: list[str]) -> list[Field]:
    """The Forecast page's day, offence group, method, area flagged and shift."""
    return [
        Field("fc_day", "day", "date", low=first, high=last),
        Field("fc_group", "group", "str", tuple(groups), default=groups[0]),
        Field("fc_method", "method", "str", tuple(methods), default=methods[0]),
        Field("fc_cov", "coverage", "float", (0.01, 0.02, 0.05, 0.10, 0.20), default=0.05),
        Field("fc_shift", "shift", "str", tuple(shifts)),
    ]


# --- saved views ---------------------------------------------------------------------------


def page_of(title: str) -> tuple[str, str] | None:
    """``(url path, permission)`` of the page titled ``title`` in the menu (None for no such page)."""
    from crimeviz.web import navigation

    for _, script, page_title, _, permission in navigation.PAGES:
        if page_title == title:
            return Path(script).stem, permission
    return None


def save_box(con, user, title: str) -> None:
    """A small sidebar form that saves the current page (by its menu ``title``) and its URL state
    under a name (audited)."""
    page = page_of(title)
    if page is None or not user.may(page[1]):
        return
    url_path, permission = page
    with st.sidebar.expander("Save this view"), st.form("save_view", clear_on_submit=True, border=False):
        name = st.text_input(
            "Name", key="view_name", max_chars=saved_views.MAX_NAME, placeholder="e.g. Robbery, downtown, nights"
        )
        submitted = st.form_submit_button("Save view")
    if not submitted:
        return
    try:
        auth.require(user, permission)
        saved_views.save(con, user.username, name, url_path, query_string())
    except (saved_views.ViewRejected, auth.AccessDenied) as exc:
        st.sidebar.error(f"Not saved: {exc}.")
        return
    st.sidebar.success("Saved: open it from Saved views.")


def views_table(con, user) -> list[dict]:
    """The user's views with the page's title and whether their role may still open it."""
    from crimeviz.web import navigation

    titles = {Path(script).stem: (title, permission) for _, script, title, _, permission in navigation.PAGES}
    rows = []
    for row in saved_views.views(con, user.username).itertuples(index=False):
        title, permission = titles.get(row.page, (row.page, None))
        rows.append(
            {
                "view_id": int(row.view_id),
                "name": row.name,
                "page": title,
                "script": f"app_pages/{row.page}.py",
                "params": _params(row.query),
                "saved": row.created_at,
                "open": permission is not None and user.may(permission),
            }
        )
    return rows


def _params(query: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        out.setdefault(key, []).append(value)
    return out


def hotspot_fields() -> list[Field]:
    """The Hotspots page's resolution, neighbourhood, false discovery rate, bandwidth and test."""
    return [
        Field("hot_res", "res", "int", (7, 8, 9), default=8),
        Field("hot_k", "k", "int", (1, 2, 3), default=1),
        Field("hot_alpha", "fdr", "float", (0.01, 0.05, 0.10), default=0.05),
        Field("hot_bw", "bandwidth", "int", tuple(range(200, 3001, 100)), default=800),
        Field("hot_test", "test", "str", ("Normal approximation", "Permutations"), default="Normal approximation"),
    ]


def trend_fields(groups: list[str]) -> list[Field]:
    """The Trends page's series and the grouping of its CompStat tables."""
    return [
        Field("trend_freq", "series", "str", ("Daily", "Weekly", "Monthly"), default="Weekly"),
        Field("trend_group", "group", "str", tuple(groups), default=groups[0]),
    ]


def near_repeat_fields(offences: list[str], first: date, last: date, default_dates) -> list[Field]:
    """The Near repeats page's offence, dates, bands, permutations and seed."""
    return [
        Field("nr_offence", "offence", "str", tuple(offences)),
        Field("nr_dates", "dates", "dates", default=tuple(default_dates), low=first, high=last, always=True),
        Field("nr_distance", "distance", "str", default="0,100,200,400"),
        Field("nr_time", "days", "str", default="0,7,14,28"),
        Field("nr_permutations", "permutations", "int", (19, 99, 999), default=99),
        Field("nr_seed", "seed", "int", default=1, low=0, high=2**31 - 1),
    ]
