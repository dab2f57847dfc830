"""Streamlit glue for the Map's time playback: controls, the frame that advances by itself, exports.

The counts and the fixed colour scale come from ``crimeviz.explore.playback`` (cached on the store's
data version); this module only draws widgets. Playing re-runs a fragment every 1/speed seconds,
so only the playback's map redraws, not the page.
"""

import streamlit as st

from crimeviz import config
from crimeviz.explore import maps, playback
from crimeviz.store import grid, queries, timeline
from crimeviz.store.filters import IncidentFilter
from crimeviz.web import area_views, ui

SPEEDS = (0.5, 1.0, 2.0, 4.0)
EXPORT_SECONDS_PER_FRAME = 0.15  # measured: a year by day took 54 s for the GIF on a shared 2-core CPU
FRAME = "pb_slider"


@st.cache_data(show_spinner="Counting incidents per step…", max_entries=8)
def _hex_playback(path: str, version: int, f: IncidentFilter, res: int, step: str) -> playback.Playback:
    counts = timeline.hex_counts_by_step(ui.connection(), f, res, playback.STEPS[step])
    return playback.build(counts, f, step)


@st.cache_data(show_spinner="Counting incidents per step…", max_entries=8)
def _area_playback(path: str, version: int, f: IncidentFilter, layer: str, step: str) -> playback.Playback:
    counts = timeline.area_counts_by_step(ui.connection(), layer, f, playback.STEPS[step])
    return playback.build(counts, f, step, "areas", key="area")


def _move(delta: int | None, n: int) -> None:
    """A step button: back or forward one step (None: to the start); pauses the playback."""
    k = st.session_state.get(FRAME, 0)
    st.session_state[FRAME] = 0 if delta is None else min(max(k + delta, 0), n - 1)
    st.session_state["pb_playing"] = False


def _play_or_pause(n: int) -> None:
    playing = not st.session_state.get("pb_playing", False)
    st.session_state["pb_playing"] = playing
    if playing and st.session_state.get(FRAME, 0) >= n - 1:
        st.session_state[FRAME] = 0  # played to the end: Play starts again


def panel(con, user, f: IncidentFilter, res: int, names: dict, context: dict, area_layer: str | None = None) -> None:
    """The playback section: step, what to draw, speed, play/pause and step buttons, the map, exports.

    ``area_layer`` (the layer of the Map's area choropleth) offers playing its areas too.
    """
    if not st.toggle("Play the map through time", key="pb_on", help="Day by day or week by week, on one colour scale"):
        return
    area_features = (area_layer, area_views.features(con, area_layer)) if area_layer else None
    a, b, c = st.columns([2, 2, 3])
    step = a.radio("Step", list(playback.STEPS), horizontal=True, key="pb_step", format_func=lambda s: f"by {s}")
    kinds = ["Hexagons", "Areas"] if area_features else ["Hexagons"]
    kind = b.radio("Draw", kinds, horizontal=True, key="pb_kind")
    speed = c.select_slider("Speed", SPEEDS, value=2.0, key="pb_speed", format_func=lambda v: f"{v:g} steps a second")
    if problem := playback.check_run(f, step):
        st.warning(f"No playback: {problem}.")
        return
    path, version = str(config.db_path()), ui.data_version(con)
    if kind == "Areas":
        layer, features = area_features
        pb = _area_playback(path, version, f, layer, step)
    else:
        pb = _hex_playback(path, version, f, res, step)
    n = pb.n_steps
    st.session_state[FRAME] = min(st.session_state.get(FRAME, 0), n - 1)
    playing = st.session_state.get("pb_playing", False)
    p, q, r, s = st.columns(4)
    p.button(
        "Pause" if playing else "Play",
        key="pb_play",
        type="primary",
        icon=":material/pause:" if playing else ":material/play_arrow:",
        on_click=_play_or_pause,
        args=(n,),
    )
    q.button("Back a step", key="pb_back", icon=":material/chevron_left:", on_click=_move, args=(-1, n))
    r.button("Forward a step", key="pb_forward", icon=":material/chevron_right:", on_click=_move, args=(1, n))
    s.button("To the start", key="pb_start", icon=":material/first_page:", on_click=_move, args=(None, n))

    @st.fragment(run_every=1 / speed if playing else None)
    def frame() -> None:
        if st.session_state.get("pb_playing", False):
            nxt = st.session_state.get(FRAME, 0) + 1
            if nxt >= n:  # the end: stop, and rerun the page so the timer stops too
                st.session_state["pb_playing"] = False
                st.rerun()
            st.session_state[FRAME] = nxt
        k = st.slider("Step", 0, n - 1, key=FRAME, format="%d", label_visibility="collapsed") if n > 1 else 0
        shown = pb.frame(k)
        st.markdown(f"**{pb.label(k)}** · step {k + 1} of {n} · {int(shown['n'].sum()):,} incidents")
        layer = playback.area_layer(pb, k, area_features[1]) if kind == "Areas" else playback.hex_layer(pb, k, names)
        deck = maps.deck([context["outline"], layer], maps.view_for(context["bounds"]), config.basemap())
        st.pydeck_chart(deck, key="pb_map")

    frame()
    st.markdown(maps.legend_html(pb.legend(), "One colour scale for the whole run"), unsafe_allow_html=True)
    _exports(con, user, pb, f, res, area_features if kind == "Areas" else None, speed)


def _exports(con, user, pb: playback.Playback, f: IncidentFilter, res: int, area_features, speed: float) -> None:
    """Download buttons for the GIF and (with ffmpeg) the MP4 of the whole run, audited when built."""
    title = ui.describe(f)

    def shapes():
        if area_features:
            return playback.area_shapes(area_features[1])
        return playback.hex_shapes(grid.to_hex(queries.study_cells(con, res)))

    def build(fmt: str) -> bytes:
        return playback.export(con, user.username, pb, shapes(), fmt, speed, title, repr(f))

    a, b = st.columns(2)
    a.download_button(
        f"Download the playback as an animated GIF ({pb.n_steps} frames)",
        lambda: build("gif"),
        "crimeviz-playback.gif",
        "image/gif",
        key="pb_gif",
        on_click="ignore",
    )
    if playback.ffmpeg():
        b.download_button(
            "Download the playback as an MP4 video",
            lambda: build("mp4"),
            "crimeviz-playback.mp4",
            "video/mp4",
            key="pb_mp4",
            on_click="ignore",
        )
    else:
        b.caption("MP4: ffmpeg is not installed on the server (the GIF works).")
    st.caption(
        f"The files are drawn frame by frame when asked for: about {EXPORT_SECONDS_PER_FRAME * pb.n_steps:.0f} s "
        "for this run (no basemap; the colour scale and date as on the page)."
    )
