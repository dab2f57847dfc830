"""CCTV review: score a clip for anomalies, review alert segments, save and export reports."""

import html
import json
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from crimeviz import config
from crimeviz.cctv import DEMO_CLIP, app_weights, charts, report, store, video
from crimeviz.cctv.model import WeightsError, load_scorer
from crimeviz.cctv.scoring import score_clip
from crimeviz.files import file_sha256
from crimeviz.store import audit
from crimeviz.web import ui

MAX_MB = 200
TORONTO = (43.6532, -79.3832)


@st.cache_resource(show_spinner="Loading the anomaly model…")
def _scorer(path: str):
    return load_scorer(path)


@st.cache_data(show_spinner=False)
def _sha256(path: str, mtime: float) -> str:
    return file_sha256(path)


@st.cache_data(show_spinner="Extracting key frames…", max_entries=8)
def _keyframes(path: str, sha256: str, peaks: tuple[int, ...]) -> list[bytes]:
    return report.keyframe_jpegs(video.probe(path), list(peaks))


def _uploaded_path(upload) -> Path | None:
    """The upload in a private temp file (copied in chunks), once per uploaded file; None if it failed."""
    saved = st.session_state.setdefault("cctv_uploads", {})
    if upload.file_id not in saved:
        path = ui.save_upload(upload, "cctv")
        if path is None:
            return None
        for old in saved.values():  # one clip on disk at a time
            shutil.rmtree(old.parent, ignore_errors=True)
        saved.clear()
        saved[upload.file_id] = path
    return saved[upload.file_id]


def _audited(con, username: str, record: dict, kind: str, make):
    """Download data made when the button is clicked, and the export entered in the audit trail."""

    def data():
        audit.record(con, username, f"cctv.export.{kind}", "cctv_report", record["report_id"])
        return make()

    return data


def _camera_forms(con, cams: pd.DataFrame, by: str) -> None:
    add, edit = st.columns(2)
    with add.form("cctv_add_camera", clear_on_submit=True):
        st.markdown("**Add a camera**")
        name = st.text_input("Name", key="cam_new_name", max_chars=store.MAX_NAME)
        lat = st.number_input("Latitude", -90.0, 90.0, TORONTO[0], format="%.6f", key="cam_new_lat")
        lon = st.number_input("Longitude", -180.0, 180.0, TORONTO[1], format="%.6f", key="cam_new_lon")
        if st.form_submit_button("Add camera"):
            try:
                st.session_state["cctv_camera_pick"] = store.add_camera(con, name, lat, lon, by)
            except ValueError as exc:
                st.error(f"Camera not added: {exc}.")
            else:
                st.rerun()
    if cams.empty:
        return
    with edit.form("cctv_edit_camera"):
        st.markdown("**Edit a camera**")
        ids = cams["camera_id"].tolist()
        pick = st.selectbox("Camera", ids, format_func=dict(zip(ids, cams["name"])).get, key="cam_edit_id")
        row = cams.set_index("camera_id").loc[pick]
        name = st.text_input("Name", row["name"], key=f"cam_edit_name_{pick}", max_chars=store.MAX_NAME)
        lat = st.number_input("Latitude", -90.0, 90.0, float(row["lat"]), format="%.6f", key=f"cam_edit_lat_{pick}")
        lon = st.number_input("Longitude", -180.0, 180.0, float(row["lon"]), format="%.6f", key=f"cam_edit_lon_{pick}")
        if st.form_submit_button("Save changes"):
            try:
                store.update_camera(con, int(pick), name, lat, lon, by)
            except ValueError as exc:
                st.error(f"Camera not changed: {exc}.")
            else:
                st.rerun()


user = ui.require("cctv")
st.title("CCTV review")
con = ui.connection()
store.ensure_tables(con)
weights = app_weights()
try:
    scorer = _scorer(str(weights))
except WeightsError as exc:
    st.error(
        f"No trained anomaly model is available, so no clip can be scored ({exc}). "
        f"Train the demo model with `python -m crimeviz cctv train --out {weights}`, "
        "or set CRIMEVIZ_CCTV_WEIGHTS to other weights."
    )
    st.stop()
st.warning(f"**Model {html.escape(scorer.version)}.** {html.escape(scorer.label)}", icon=":material/warning:")
if "overall_auc" in scorer.metrics:
    m = scorer.metrics
    st.caption(
        f"Frame-level ROC-AUC on held-out footage with synthetic events: {m['overall_auc']:.2f} "
        f"(event types never seen in training: {m['unseen_types_auc']:.2f}); on the one real event available, "
        f"a hand over the lens of another camera: {m['real_hand_occlusion_auc']:.2f}. "
        "Details in data/cctv/MODEL_CARD.md."
    )

st.subheader("Camera")
cams = store.cameras(con)
if user.may("cameras"):
    with st.expander("Add or edit cameras", expanded=cams.empty):
        _camera_forms(con, cams, user.username)
if cams.empty:
    st.info(
        "Reviews are saved per camera, and no camera is registered yet"
        + (
            ": add the one the footage comes from (name and location)."
            if user.may("cameras")
            else "; an administrator adds cameras."
        )
    )
    camera = None
else:
    ids = cams["camera_id"].tolist()
    camera_id = st.selectbox("Camera", ids, format_func=dict(zip(ids, cams["name"])).get, key="cctv_camera_pick")
    camera = store.camera(con, int(camera_id))
    st.caption(f"{html.escape(camera['name'])} · {camera['lat']:.5f}, {camera['lon']:.5f}")

st.subheader("Clip")
limits = video.Limits.from_env()
source = st.radio("Footage", ["Upload a clip", "Demo clip"], horizontal=True, key="cctv_source")
if source == "Demo clip":
    if not DEMO_CLIP.is_file():
        st.error("The demo clip is missing from data/cctv/.")
        st.stop()
    path, clip_name = DEMO_CLIP, DEMO_CLIP.name
    truth = json.loads(DEMO_CLIP.with_suffix(".json").read_text())
    st.caption(
        html.escape(truth["attribution"])
        + " Injected events: "
        + "; ".join(f"{e['kind'].replace('_', ' ')} {e['start_s']:.1f}–{e['end_s']:.1f} s" for e in truth["events"])
        + "."
    )
else:
    upload = st.file_uploader(
        "Video clip",
        type=list(video.UPLOAD_TYPES),
        key="cctv_upload",
        max_upload_size=MAX_MB,
        help=f"Up to {MAX_MB} MB, {limits.max_seconds / 60:g} minutes and 4K resolution.",
    )
    if upload is None:
        st.stop()
    path, clip_name = _uploaded_path(upload), Path(upload.name).name
    if path is None:
        st.stop()
sha256 = _sha256(str(path), path.stat().st_mtime)

results = st.session_state.setdefault("cctv_results", {})
key = (sha256, scorer.version)
if key not in results:
    bar = st.progress(0.0, text="Scoring the clip…")
    try:
        result = score_clip(path, scorer, limits, progress=lambda f: bar.progress(f, text=f"Scoring the clip… {f:.0%}"))
    except video.VideoError as exc:
        bar.empty()
        st.error(f"This clip cannot be reviewed: {exc}")
        st.stop()
    bar.empty()
    audit.record(
        con,
        user.username,
        "cctv.score",
        "clip",
        sha256,
        {"name": clip_name, "frames": result.n_frames, "model": scorer.version},
    )
    results.clear()  # keep one clip's scores in memory
    results[key] = result
result = results[key]

st.subheader("Anomaly score")
c1, c2, c3, c4 = st.columns(4)
c1.metric("Duration", f"{result.duration_s:.1f} s")
c2.metric("Frames", f"{result.n_frames:,} @ {result.fps:g} fps")
c3.metric("Peak score", f"{result.frame_scores.max():.3f}")
c4.metric("Scored at", f"{result.timings['realtime_factor']:.0f}× real time")
threshold = st.slider(
    "Alert threshold",
    0.05,
    0.95,
    0.5,
    0.05,
    key="cctv_threshold",
    help="Frames scoring at or above this form alert segments (gaps under 1 s merged).",
)
segments = result.segments(threshold)
labels = [f"#{i + 1}: {s.start_s:.1f}–{s.end_s:.1f} s, peak {s.peak:.3f}" for i, s in enumerate(segments)]
selected = st.selectbox(
    "Jump to segment",
    range(len(segments)),
    format_func=labels.__getitem__,
    key="cctv_segment",
    placeholder="No alert segment at this threshold",
)
selected = selected if selected is not None and selected < len(segments) else None
st.plotly_chart(charts.score_figure(result.frame_scores, result.fps, threshold, segments, selected), key="cctv_curve")

keyframes = _keyframes(str(path), sha256, tuple(s.peak_frame for s in segments)) if segments else []
left, right = st.columns([3, 2])
with left:
    st.markdown(f"**Alert segments** ({len(segments)})")
    if segments:
        st.dataframe(
            pd.DataFrame(
                {
                    "#": range(1, len(segments) + 1),
                    "start (s)": [round(s.start_s, 1) for s in segments],
                    "end (s)": [round(s.end_s, 1) for s in segments],
                    "peak at (s)": [round(s.peak_s, 1) for s in segments],
                    "peak score": [round(s.peak, 3) for s in segments],
                }
            ),
            hide_index=True,
            key="cctv_segments",
        )
    else:
        st.caption("No frame reaches the threshold.")
with right:
    start = int(segments[selected].start_s) if selected is not None else 0
    info = result.info
    if info.browser_playable:
        st.video(str(path), format=f"video/{path.suffix.lower().lstrip('.')}", start_time=start)
    else:
        previews = st.session_state.setdefault("cctv_previews", {})
        if sha256 not in previews:
            st.info(
                f"Browsers cannot play this clip's codec ({html.escape(info.fourcc or 'unknown')}); "
                "the key frames and the curve still show every alert."
            )
            if st.button("Make a browser-playable preview", key="cctv_preview"):
                with st.spinner("Transcoding a preview…"):
                    target = Path(tempfile.mkdtemp(prefix="cctv-preview-", dir=config.uploads_dir())) / "preview.webm"
                    video.write_preview(info, target, limits=limits)
                previews.clear()
                previews[sha256] = target
                st.rerun()
        else:
            st.video(str(previews[sha256]), format="video/webm", start_time=start)
if keyframes:
    st.markdown("**Key frames at the segment peaks**")
    cols = st.columns(4)
    for i, (jpeg, s) in enumerate(zip(keyframes, segments)):
        cols[i % 4].image(jpeg, caption=f"#{i + 1} at {s.peak_s:.1f} s · {s.peak:.3f}")

st.subheader("Save the review")
if camera is None:
    st.info("Add a camera above to save this review.")
else:
    with st.form("cctv_save", clear_on_submit=True):
        note = st.text_area(
            "Reviewer note", key="cctv_note", max_chars=store.MAX_NOTE, placeholder="What you saw, what was done"
        )
        save = st.form_submit_button(f"Save report for {camera['name']}", type="primary")
    if save:
        record = report.build_report(result, camera, clip_name, sha256, threshold, user.username, note)
        try:
            report_id = store.save_report(con, record, keyframes)
        except ValueError as exc:
            st.error(f"The report was not saved: {exc}.")
        else:
            st.session_state["cctv_report_pick"] = report_id
            st.success(
                f"Saved report #{report_id} ({len(segments)} segments, peak {record['peak']:.3f}). "
                "It appears on the Map page at the camera's location."
            )

st.subheader("Saved reports")
listing = store.reports(con)
if listing.empty:
    st.caption("No reports yet.")
    st.stop()
st.dataframe(listing, hide_index=True, key="cctv_reports")
ids = listing["report_id"].tolist()
if st.session_state.get("cctv_report_pick") not in ids:
    st.session_state["cctv_report_pick"] = ids[0]
names = {
    row.report_id: f"#{row.report_id} · {row.camera} · {row.created_at:%Y-%m-%d %H:%M}" for row in listing.itertuples()
}
report_id = st.selectbox("Export report", ids, key="cctv_report_pick", format_func=names.get)
record, frames = store.load_report(con, int(report_id))
d1, d2 = st.columns(2)
d1.download_button(
    "Download JSON",
    _audited(con, user.username, record, "json", lambda: report.to_json(record)),
    f"cctv-report-{report_id}.json",
    "application/json",
    key="cctv_json",
)
d2.download_button(
    "Download PDF",
    _audited(con, user.username, record, "pdf", lambda: report.to_pdf(record, frames)),
    f"cctv-report-{report_id}.pdf",
    "application/pdf",
    key="cctv_pdf",
)
nearby = store.nearby_incidents(con, record["camera"]["lat"], record["camera"]["lon"])
st.caption(f"{len(nearby):,} recorded incidents lie within 250 m of {html.escape(record['camera']['name'])}.")
if not nearby.empty:
    st.dataframe(nearby.head(20), hide_index=True, key="cctv_nearby")
