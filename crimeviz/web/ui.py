"""Streamlit glue shared by the pages: the store connection and the sidebar filter.

Only widget code lives here; every query and figure comes from the rest of ``crimeviz``.
"""

import json
import os
import re
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import streamlit as st

from crimeviz import config
from crimeviz.access import accounts, auth, sessions
from crimeviz.explore import maps
from crimeviz.store import areas, audit, db, queries
from crimeviz.store.filters import WEEKDAYS, IncidentFilter
from crimeviz.web import share

IDLE_TIMEOUT = timedelta(hours=8)

APP_CSS = Path(__file__).with_name("app.css")
FAVICON = Path(__file__).with_name("favicon.png")

FILTER_KEYS = (
    "f_dates",
    "f_offences",
    "f_premises",
    "f_neigh",
    "f_hours",
    "f_midnight",
    "f_weekdays",
    "f_area_layer",
    "f_areas",
)


def plain(text) -> str:
    """``text`` (names from a file or a form) with Markdown's special characters escaped: shown, not rendered."""
    return re.sub(r"([\\`*_\[\]!<>~$|])", r"\\\1", str(text))


def app_style() -> None:
    """The app's own CSS on every page (``crimeviz/app.css`` says why each rule is there)."""
    st.html(APP_CSS)


@st.cache_resource(show_spinner="Opening the incident database…")
def _store(path: str):
    return db.open_store(path)


def connection():
    """The app's store (one handle for every session; it opens the database only while it uses it)."""
    try:
        return _store(config.store_location()).cursor()
    except db.StoreUnavailable as exc:
        st.error(f"The incident database cannot be opened: {exc}.")
        st.stop()


@contextmanager
def store_errors():
    """Show a store that cannot be reached (a server restarting, a writer holding on) as one message."""
    try:
        yield
    except db.StoreUnavailable as exc:
        st.error(f"The incident database is not available right now: {exc}. Reload the page to try again.")
        st.stop()


def data_version(con) -> int:
    """The store's :func:`~crimeviz.store.db.data_version`: every cache of data derived from the
    incidents takes it (and the store's path) as arguments, so a change made by any process, an
    import on the Data page or a CLI import alike, is seen on the next rerun."""
    return db.data_version(con)


@st.cache_data(show_spinner=False)
def _options(path: str, version: int) -> dict:
    return queries.options(connection())


def options(con) -> dict:
    return _options(str(config.db_path()), data_version(con))


@st.cache_resource(show_spinner=False, max_entries=4)
def _context(path: str, version: int) -> dict:
    con = connection()
    return {
        "bounds": queries.bounds(con),
        "outline": maps.outline_layer(queries.study_cells(con, 7)),
        "neighbourhoods": maps.neighbourhood_layer(queries.neighbourhood_cells(con)),
    }


@st.cache_data(show_spinner=False, max_entries=12)
def _neighbourhood_names(path: str, version: int, res: int) -> dict[str, str]:
    return queries.neighbourhood_names(connection(), res)


def neighbourhood_names(con, res: int) -> dict[str, str]:
    """``{cell hex: neighbourhood}`` at ``res``, refreshed when an import lands."""
    return _neighbourhood_names(str(config.db_path()), data_version(con), res)


def map_context(con) -> dict:
    """What every map shares and only imports change: ``bounds``, ``outline`` and ``neighbourhoods`` layers."""
    return _context(str(config.db_path()), data_version(con))


@st.cache_data(show_spinner=False)
def _area_catalogue(path: str, version: int) -> dict[str, list[str]]:
    con = connection()
    return {layer: areas.area_names(con, layer) for layer in areas.layer_names(con)}


def area_catalogue(con) -> dict[str, list[str]]:
    """``{layer: [area names]}`` for every area layer; a layer's import or removal raises the data
    version, so the lists follow it."""
    return _area_catalogue(str(config.db_path()), data_version(con))


def _forget_areas() -> None:
    st.session_state["f_areas"] = []


def area_filter(con) -> tuple[str | None, tuple[str, ...] | None]:
    """The sidebar's area layer and areas (None: every area), drawn inside the caller's sidebar."""
    catalogue = area_catalogue(con)
    if not catalogue:
        return None, None
    layers = list(catalogue)
    if st.session_state.get("f_area_layer") not in layers:
        st.session_state["f_area_layer"] = areas.DEFAULT_LAYER if areas.DEFAULT_LAYER in layers else layers[0]
    layer = st.selectbox(
        "Area layer",
        layers,
        key="f_area_layer",
        on_change=_forget_areas,
        help="Beats, divisions, wards or other areas imported on the Areas page.",
    )
    valid = catalogue[layer]
    st.session_state["f_areas"] = [a for a in st.session_state.get("f_areas", []) if a in valid]
    chosen = st.multiselect("Areas", valid, key="f_areas", placeholder="All areas")
    return layer, tuple(chosen) or None


def keep_filters() -> None:
    """Keep the sidebar filter when the analyst moves between pages."""
    for key in FILTER_KEYS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def filter_fields(opts: dict) -> list[share.Field]:
    """The sidebar filter's widgets as share-link fields (see :mod:`crimeviz.web.share`)."""
    first, last = opts["first_date"], opts["last_date"]
    return [
        share.Field(
            "f_dates",
            "dates",
            "dates",
            default=(max(first, last - timedelta(days=364)), last),
            low=first,
            high=last,
            always=True,
        ),
        share.Field("f_offences", "offence", "list", tuple(opts["offences"]), default=[]),
        share.Field("f_premises", "premises", "list", tuple(opts["premises"]), default=[]),
        share.Field("f_neigh", "neighbourhood", "list", tuple(opts["neighbourhoods"]), default=[]),
        share.Field("f_hours", "hours", "range", default=(0, 23)),
        share.Field("f_midnight", "midnight", "bool", default=False),
        share.Field("f_weekdays", "weekday", "list", WEEKDAYS, default=list(WEEKDAYS)),
        share.Field("f_area_layer", "layer", "str", default=areas.DEFAULT_LAYER),
        share.Field("f_areas", "area", "list", default=[]),
    ]


def link_notes(notes: list[str]) -> None:
    """Say which of a link's settings this user's view could not take (shown as text, not Markdown)."""
    if message := share.notes_message(notes):
        st.warning(plain(message))


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
    link_notes(share.sync("filter", filter_fields(opts)))
    with st.sidebar:
        st.header("Filter")
        dates = st.date_input("Dates", min_value=first, max_value=last, key="f_dates", format="YYYY-MM-DD")
        offences = st.multiselect("Offences", opts["offences"], key="f_offences", placeholder="All offences")
        premises = st.multiselect("Premises", opts["premises"], key="f_premises", placeholder="All premises")
        neigh = st.multiselect(
            "Neighbourhoods", opts["neighbourhoods"], key="f_neigh", placeholder="All neighbourhoods"
        )
        hours = st.slider("Hours of day", 0, 23, key="f_hours")
        midnight = st.toggle(
            "Across midnight (hours outside the range)",
            key="f_midnight",
            help="For night shifts: e.g. range 6–21 with this on keeps 22:00–05:59.",
        )
        weekdays = st.multiselect("Weekdays", list(WEEKDAYS), key="f_weekdays")
        area_layer, chosen_areas = area_filter(con)
    if not isinstance(dates, (tuple, list)) or len(dates) != 2:
        st.info("Pick an end date for the date range in the sidebar.")
        return None
    hour_range = (hours[1] + 1, hours[0] - 1) if midnight else tuple(hours)
    if midnight and (hours[0] == 0 or hours[1] == 23):
        st.error("'Across midnight' needs a range that excludes midnight, e.g. 6–21.")
        return None
    f = IncidentFilter(
        dates[0],
        dates[1],
        tuple(offences) or None,
        tuple(premises) or None,
        tuple(neigh) or None,
        hour_range,
        tuple(WEEKDAYS.index(d) for d in weekdays),
    ).with_areas(area_layer if chosen_areas else None, chosen_areas)
    problems = f.problems()
    if problems:
        st.error("The filter cannot be used: " + "; ".join(problems) + ".")
        return None
    return f


def filtered_page(title: str, permission: str = "incidents"):
    """The common head of the incident pages: access check, title, connection and sidebar filter.

    Returns ``(user, con, filter)``; stops the page (with a message) when the filter is unusable.
    """
    user = require(permission)
    st.title(title)
    con = connection()
    f = sidebar_filter(con)
    if f is None:
        st.stop()
    return user, con, f


NO_MATCH = "No incidents match this filter. Widen the dates or clear some choices in the sidebar."


def describe(f: IncidentFilter) -> str:
    parts = [queries.period_label(f.start, f.end)]
    for name, values in (("offences", f.offences), ("premises", f.premises), ("neighbourhoods", f.neighbourhoods)):
        if values:
            parts.append(f"{len(values)} {name}" if len(values) > 3 else ", ".join(values))
    if f.hours != (0, 23):
        parts.append(f"hours {f.hours[0]:02d}–{f.hours[1]:02d}")
    if len(f.weekdays) < 7:
        parts.append(" ".join(WEEKDAYS[d] for d in f.weekdays))
    if f.areas:
        named = f"{len(f.areas)} areas" if len(f.areas) > 3 else ", ".join(f.areas)
        parts.append(plain(f"{named} ({f.area_layer})"))  # names from an imported file: shown, not rendered
    return " · ".join(parts)


def current_user() -> auth.User | None:
    """The signed-in user, or None; signs out a session idle for longer than IDLE_TIMEOUT."""
    user = st.session_state.get("user")
    now = datetime.now()
    if user is not None and now - st.session_state.get("last_seen", now) > IDLE_TIMEOUT:
        st.session_state["signed_out_reason"] = "You were signed out after a period of inactivity."
        _forget_user()
        return None
    if user is None and st.user.get("is_logged_in"):
        user = _provider_sign_in()
    if user is None and (user := sessions.user_for(connection(), st.context.cookies.get(sessions.COOKIE))):
        st.session_state["user"] = user  # a reload or a link: the session cookie still holds
    st.session_state["last_seen"] = now
    return user


def session_cookie() -> None:
    """Set or clear the browser's session cookie when a sign-in or sign-out asked for it.

    Streamlit reads cookies (``st.context.cookies``) but has no call to write one, so a line of
    script in the page does; the token holds only URL-safe base64 characters."""
    token = st.session_state.pop("session_cookie", None)
    if token is None:
        return
    age = int(sessions.LIFETIME.total_seconds()) if token else 0
    cookie = json.dumps(f"{sessions.COOKIE}={token}; Path=/; Max-Age={age}; SameSite=Strict")
    secure = "(location.protocol === 'https:' ? '; Secure' : '')"
    st.html(f"<script>document.cookie = {cookie} + {secure};</script>", unsafe_allow_javascript=True)


def identity_providers() -> list[str | None]:
    """The OpenID Connect providers set up in Streamlit's ``[auth]`` secrets (None: the unnamed one)."""
    try:
        section = st.secrets.get("auth", {})
    except FileNotFoundError:  # no secrets file: local accounts only
        return []
    if "client_id" in section:
        return [None]
    return [name for name, value in section.items() if hasattr(value, "get") and "client_id" in value]


def _provider_sign_in() -> auth.User:
    """Map an ``st.login`` identity to a CrimeViz user (audited); otherwise a message and stop."""
    try:
        user = auth.provider_user(st.user.to_dict(), accounts.oidc_roles())
    except (auth.AccessDenied, accounts.AccountsUnavailable) as exc:
        st.error(f"Not signed in: {exc}.")
        st.button("Sign out of the identity provider", key="provider_sign_out", on_click=st.logout)
        st.stop()
    audit.record(connection(), user.username, "sign_in", "user", user.username, {"method": "openid-connect"})
    st.session_state["user"], st.session_state["via_provider"] = user, True
    return user


def require(permission: str) -> auth.User:
    """The signed-in user if their role grants ``permission``; otherwise a message and stop."""
    user = current_user()
    try:
        return auth.require(user, permission)
    except auth.AccessDenied as exc:
        st.error(f"Access denied: {exc}.")
        if user is None:
            st.markdown("[Sign in](/)")
        st.stop()


def sign_in_form(con) -> None:
    """The sign-in form, or the first administrator's set-up form on a store without users."""
    first_run = auth.user_count() == 0
    st.title("CrimeViz")
    if reason := st.session_state.pop("signed_out_reason", None):
        st.info(reason)
    if first_run:
        st.subheader("Create the first administrator")
        st.caption(
            "This database has no accounts yet. The account created here can add analysts, "
            "commanders and reviewers on the Users page (or use `python -m crimeviz users add`)."
        )
    else:
        for provider in identity_providers():
            label = f"Sign in with {provider}" if provider else "Sign in with your organisation's account"
            st.button(label, key=f"login_{provider or 'default'}", on_click=st.login, args=(provider,))
    with st.form("sign_in"):
        username = st.text_input("User name", key="signin_user")
        password = st.text_input("Password", type="password", key="signin_password")
        if first_run:
            repeat = st.text_input("Repeat password", type="password", key="signin_repeat")
        submitted = st.form_submit_button("Create administrator" if first_run else "Sign in", type="primary")
    if not submitted:
        return
    try:
        if first_run:
            if password != repeat:
                raise ValueError("the passwords differ")
            auth.add_user(con, username.strip().lower(), password, "admin")
        user = auth.sign_in(con, username, password)
    except (auth.AccessDenied, accounts.AccountsUnavailable, ValueError) as exc:
        st.error(f"Not signed in: {exc}.")
        return
    st.session_state["user"] = user
    st.session_state["session_cookie"] = sessions.issue(con, user.username)
    st.rerun()


def signed_out() -> None:
    """The page behind the hidden navigation while nobody is signed in (app.py draws the form)."""


def account_box(con, user: auth.User) -> None:
    """Who is signed in, and a sign-out button, at the top of the sidebar above the page's own controls."""
    with st.sidebar:
        st.caption(f"Signed in as **{user.display_name}** ({user.role})")
        st.button("Sign out", key="sign_out", on_click=_sign_out, args=(con, user))
        st.divider()


def _sign_out(con, user: auth.User) -> None:
    audit.record(con, user.username, "sign_out", "user", user.username)  # also voids their session cookies
    st.session_state["session_cookie"] = ""
    _forget_user()


def _forget_user() -> None:
    """End the session's sign-in, and the identity provider's too when it signed the user in."""
    st.session_state.pop("user", None)
    if st.session_state.pop("via_provider", False):
        st.logout()


def rerun_after_write(message: str) -> None:
    """Rerun the page so every list on it shows the write; ``message`` is shown by ``write_notice``."""
    st.session_state["write_notice"] = message
    st.rerun()


def write_notice() -> None:
    """The success message of the write that caused this rerun, once."""
    if message := st.session_state.pop("write_notice", None):
        st.success(message)


def save_upload(upload, prefix: str) -> Path | None:
    """Copy an upload into a new private folder under ``config.uploads_dir()``; None (with a message)
    if it cannot be stored.

    The file name is reduced to safe characters; a failed copy (e.g. a full disk) leaves nothing
    behind. ``python -m crimeviz retention purge`` deletes uploads older than the retention period.
    """
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}-{datetime.now():%Y%m%d-%H%M%S}-", dir=config.uploads_dir()))
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(upload.name).name).lstrip(".") or "upload"
    path = folder / name
    try:
        upload.seek(0)
        with open(path, "wb") as out:
            shutil.copyfileobj(upload, out, 1 << 20)
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        st.error(
            f"The upload could not be stored ({exc.strerror or exc}); nothing was saved. "
            "Free some disk space or ask an administrator."
        )
        return None
    return path


_RUN_LOG_LOCK = threading.Lock()


@contextmanager
def timed_run(user: auth.User):
    """Append each page run's server time to ``$CRIMEVIZ_RUN_LOG`` (JSON lines), when it is set.

    The load benchmark reads it to tell the server's share of a rerun from the browser's.
    """
    path = os.environ.get("CRIMEVIZ_RUN_LOG")
    start = time.perf_counter()
    try:
        yield
    finally:
        if path:
            line = json.dumps({"user": user.username, "seconds": time.perf_counter() - start, "ended": time.time()})
            with _RUN_LOG_LOCK, open(path, "a") as log:
                log.write(line + "\n")
