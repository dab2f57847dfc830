"""Street view: DevianceNet deviance scores for an uploaded street-level sequence (Park et al., AAAI 2022)."""

from pathlib import Path

import streamlit as st

from crimeviz import config
from crimeviz.store import queries
from crimeviz.streetview import checkpoints, figures, labels, scoring, sequences, store, training, uploads
from crimeviz.web import ui

FRAME_TYPES = sorted(s.lstrip(".") for s in sequences.IMAGE_SUFFIXES | uploads.VIDEO_SUFFIXES) + ["zip"]
LOCATION_MODES = ("Typed", "Clicked on the map", "From the frames' EXIF GPS")
LABEL_SOURCES = {"names": "From the folder names (v_class<N>_…)", "incidents": "From incidents around each location"}


@st.cache_resource(show_spinner="Loading the model…", max_entries=2)
def _model(path: str, modified: float) -> checkpoints.ScoringModel:
    return checkpoints.load(path)


def _install_upload(con, user) -> None:
    st.markdown(
        "The official `[AAAI2022-DevianceNet]SEA.pth` or `DIA.pth` from the DevianceNet authors, or a "
        "`.pth` made by `python -m crimeviz streetview train`. It is loaded strictly before it is kept."
    )
    pth = st.file_uploader("Checkpoint (.pth)", type=["pth", "pt"], key="sv_pth", help=f"Up to {_max_mb()} MB.")
    if pth is not None and st.button("Install", key="sv_install"):
        try:
            added = checkpoints.install(con, user, pth.name, pth.getvalue())
        except ValueError as exc:
            st.error(f"Not installed: {exc}")
        else:
            st.success(f"Installed {added.describe()}.")


def _train_upload(con, user) -> None:
    st.markdown(
        "Trains the light CPU model (DevianceNet-Lite: a frozen EfficientNet-Lite0 and a small temporal "
        "head) on a zip of sequence folders. Classes come from folder names in the official layout, or "
        "from this database's incidents around each sequence's location (folder name or EXIF GPS)."
    )
    archive = st.file_uploader(
        "Labelled sequences (zip)", type=["zip"], key="sv_train_zip", help=f"Up to {_max_mb()} MB."
    )
    source = st.radio("Classes", list(LABEL_SOURCES), format_func=LABEL_SOURCES.get, key="sv_train_labels")
    radius = st.number_input(
        "Radius for counting incidents (m)",
        50,
        2000,
        250,
        step=50,
        key="sv_train_radius",
        disabled=source != "incidents",
    )
    epochs = st.slider("Epochs", 5, 200, 40, key="sv_train_epochs")
    if archive is not None and st.button("Train", key="sv_train"):
        bar = st.progress(0.0, "Encoding the sequences…")
        try:
            record = training.train_archive(
                con,
                archive.getvalue(),
                archive.name,
                user,
                source,
                labels.LabelRule(radius_m=radius),
                epochs,
                lambda done, total: bar.progress(done / total, f"Encoded {done} of {total} sequences"),
            )
        except ValueError as exc:
            st.error(f"Not trained: {exc}")
        else:
            st.success(f"Saved {Path(record['out']).name}: trained on {checkpoints.training_summary(record)}.")


def _max_mb() -> int:
    """The upload limit of every uploader here: ``server.maxUploadSize`` in .streamlit/config.toml."""
    return st.get_option("server.maxUploadSize")


st.title("Street view deviance")
user = ui.require("streetview")
st.markdown(
    "**DevianceNet** (Park et al., AAAI 2022) reads 16 street-level frames of a place and predicts how much "
    "crime surrounds it: a severity class from 1 (least) to 5 (most), *SEA*, and the probability that the "
    "place is among the most deviant, *DIA*."
)
con = ui.connection()
store.ensure_tables(con)

st.subheader("Model")
if user.may("models"):
    with st.expander("Add a trained model (for every user)", expanded=not checkpoints.installed()):
        tab_upload, tab_train = st.tabs(["Upload a checkpoint", "Train on your labelled sequences"])
        with tab_upload:
            _install_upload(con, user)
        with tab_train:
            _train_upload(con, user)
paths = checkpoints.installed()
if not paths:
    st.warning(checkpoints.none_installed_note(user.may("models")))
    st.stop()
path = st.selectbox("Installed checkpoint", paths, format_func=lambda p: p.name, key="sv_weights")
try:
    model = _model(str(path), path.stat().st_mtime)
except ValueError as exc:
    st.error(f"This checkpoint cannot be used: {exc}")
    st.stop()
st.caption(model.describe())

st.subheader("Score a sequence")
files = st.file_uploader(
    "16 frames of one street-level sequence, a zip of them, or a short video (sampled to 16 frames)",
    type=FRAME_TYPES,
    accept_multiple_files=True,
    key="sv_upload",
    help=f"Up to {_max_mb()} MB a file.",
)
mode = st.radio("Location", LOCATION_MODES, horizontal=True, key="sv_where")
lat = lon = None
if mode == LOCATION_MODES[0]:
    left, right = st.columns(2)
    lat = left.number_input("Latitude", -90.0, 90.0, value=None, format="%.6f", key="sv_lat")
    lon = right.number_input("Longitude", -180.0, 180.0, value=None, format="%.6f", key="sv_lon")
elif mode == LOCATION_MODES[1]:
    picker = figures.location_picker(queries.study_cells(con, 7), queries.bounds(con), config.basemap())
    picked = figures.picked_location(
        st.pydeck_chart(picker, on_select="rerun", selection_mode="single-object", key="sv_map")
    )
    if picked:
        lat, lon = picked
    st.caption(
        f"Location: {lat:.5f}, {lon:.5f} (centre of the clicked cell)"
        if picked
        else "Click the map to set the location: the centre of the clicked H3 cell (about 0.1 km²); "
        "type it for an exact position."
    )

if st.button("Score and save", type="primary", key="sv_score", disabled=not files):
    try:
        with st.spinner("Scoring…"):
            st.session_state["sv_result"] = scoring.score_upload(
                con,
                model,
                [(f.name, f.getvalue()) for f in files],
                user.username,
                lat,
                lon,
                use_exif=mode == LOCATION_MODES[2],
            )
    except ValueError as exc:
        st.session_state.pop("sv_result", None)
        st.error(f"Nothing was stored: {exc}")

result = st.session_state.get("sv_result")
if result:
    st.success(f"Scored {result.name} at {result.lat:.5f}, {result.lon:.5f} and saved the score.")
    a, b, c = st.columns(3)
    a.metric("Most likely class (SEA)", result.score.sea_class)
    b.metric("Expected class", f"{result.score.expected_class:.2f}")
    c.metric("P(deviance) (DIA)", f"{result.score.dia_prob:.0%}")
    st.bar_chart(figures.probabilities(result.score), x="SEA class", y="Probability", height=220)
    st.caption("The frames as the model sees them (centre crop, 224×224):")
    st.image(
        [sequences.model_view(image) for image in result.frames.images], caption=list(result.frames.names), width=110
    )

st.subheader("Saved scores")
st.dataframe(store.recent_scores(con), hide_index=True, key="sv_scores")
