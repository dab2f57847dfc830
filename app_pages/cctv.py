"""CCTV review: score a clip for anomalies, review alert segments, save and export reports."""

import html
import shutil
from pathlib import Path

import streamlit as st

from crimeviz.cctv import (
    DEMO_CLIP,
    app_weights,
    calibration,
    charts,
    preview,
    registry,
    report,
    retrain,
    review,
    store,
    video,
)
from crimeviz.cctv import labels as cctv_labels
from crimeviz.cctv.model import WeightsError, load_scorer
from crimeviz.files import file_sha256
from crimeviz.web import ui

TORONTO = (43.6532, -79.3832)


@st.cache_resource(show_spinner=False)
def _heads(path: str, mtime_ns: int) -> dict:
    return retrain.read_heads(Path(path))


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


def _camera_forms(con, cams, by: str) -> None:
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


def _scored(con, by: str, path: Path, scorer, clip_name: str, sha256: str, limits: video.Limits):
    """The clip's scores, computed once per clip and model in this session; None (with a message) for a bad clip."""
    results = st.session_state.setdefault("cctv_results", {})
    key = (sha256, scorer.version)
    if key not in results:
        bar = st.progress(0.0, text="Scoring the clip…")
        try:
            result = review.score(
                con,
                path,
                scorer,
                by,
                clip_name,
                sha256,
                limits,
                lambda f: bar.progress(f, text=f"Scoring the clip… {f:.0%}"),
            )
        except video.VideoError as exc:
            st.error(f"This clip cannot be reviewed: {exc}")
            return None
        finally:
            bar.empty()
        results.clear()  # keep one clip's scores in memory
        results[key] = result
    return results[key]


def _copy_progress(job: preview.Preview, codec: str) -> None:
    """Shown (and refreshed every second) while the playable copy is made; the page reruns once it is ready."""
    if not job.pending:
        st.rerun()
    st.progress(
        job.fraction,
        text=f"Browsers cannot play this clip's codec ({codec}); making a playable copy… {job.fraction:.0%}",
    )


def _player(info: video.VideoInfo, sha256: str, start: int, limits: video.Limits) -> None:
    """The clip in the browser's player, or its playable copy once made (the curve and key frames meanwhile)."""
    if info.browser_playable:
        st.video(str(info.path), format=f"video/{info.path.suffix.lower().lstrip('.')}", start_time=start)
        return
    job = preview.request(info, sha256, limits)
    codec = html.escape(info.fourcc or "unknown")
    if job.pending:
        st.fragment(_copy_progress, run_every=1.0)(job, codec)
    elif job.error:
        st.info(f"Browsers cannot play this clip's codec ({codec}) and {job.error}; the key frames show every alert.")
    else:
        st.video(str(job.path), format="video/webm", start_time=start)


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
        "Train the demo model with `python -m crimeviz cctv train`, or set CRIMEVIZ_CCTV_WEIGHTS to other weights."
    )
    st.stop()
st.warning(f"**Model {html.escape(scorer.version)}.** {html.escape(scorer.label)}", icon=":material/warning:")
if user.may("models") and not (model_versions := registry.summary(con)).empty:
    with st.expander("Model versions (administrators)"):
        st.dataframe(model_versions, hide_index=True, key="cctv_model_versions")
        m1, m2 = st.columns(2)
        chosen = m1.selectbox("Version", model_versions["version"].tolist(), key="cctv_model_pick")
        try:
            if m1.button("Promote this version", key="cctv_model_promote"):
                registry.promote(con, int(chosen), user.username, "promoted on the CCTV page")
                st.rerun()
            if m2.button("Roll back to the previous version", key="cctv_model_rollback"):
                registry.rollback(con, user.username, "rolled back on the CCTV page")
                st.rerun()
        except ValueError as exc:
            st.error(f"Nothing changed: {exc}.")
if note := review.model_note(scorer):
    st.caption(note)

st.subheader("Camera")
cams = store.cameras(con)
if user.may("cameras"):
    with st.expander("Add or edit cameras", expanded=cams.empty):
        _camera_forms(con, cams, user.username)
camera = None
if cams.empty:
    st.info(review.no_camera_note(user.may("cameras")))
else:
    ids = cams["camera_id"].tolist()
    camera_id = st.selectbox("Camera", ids, format_func=dict(zip(ids, cams["name"])).get, key="cctv_camera_pick")
    camera = store.camera(con, int(camera_id))
    st.caption(f"{html.escape(camera['name'])} · {camera['lat']:.5f}, {camera['lon']:.5f}")

st.subheader("Clip")
limits = video.Limits.from_env()
source = st.radio("Footage", ["Upload a clip", "Demo clip"], horizontal=True, key="cctv_source")
try:
    recording_start = review.recording_start(
        st.text_input(
            "Recording started at (optional)",
            key="cctv_recording_start",
            placeholder="2021-06-01 14:02:07",
            help="The camera's date and time of the clip's first frame (ISO 8601): alert segments and saved "
            "reports then carry wall-clock times.",
        )
    )
except ValueError as exc:
    st.error(str(exc))
    recording_start = None
if source == "Demo clip":
    if not DEMO_CLIP.is_file():
        st.error("The demo clip is missing from data/cctv/.")
        st.stop()
    path, clip_name = DEMO_CLIP, DEMO_CLIP.name
    st.caption(html.escape(review.demo_note()))
else:
    upload = st.file_uploader(
        "Video clip",
        type=list(video.UPLOAD_TYPES),
        key="cctv_upload",
        help=f"Up to {st.get_option('server.maxUploadSize')} MB, {limits.max_seconds / 60:g} minutes and 4K resolution.",
    )
    if upload is None or (path := _uploaded_path(upload)) is None:
        st.stop()
    clip_name = Path(upload.name).name
sha256 = _sha256(str(path), path.stat().st_mtime)
result = _scored(con, user.username, path, scorer, clip_name, sha256, limits)
if result is None:
    st.stop()

st.subheader("Anomaly score")
c1, c2, c3, c4 = st.columns(4)
c1.metric("Duration", f"{result.duration_s:.1f} s")
c2.metric("Frames", f"{result.n_frames:,} @ {result.fps:g} fps")
c3.metric("Peak score", f"{result.frame_scores.max():.3f}")
c4.metric("Scored at", f"{result.timings['realtime_factor']:.0f}× real time")
threshold = st.slider(
    "Alert threshold",
    review.THRESHOLD_MIN,
    review.THRESHOLD_MAX,
    calibration.current_threshold(con, camera["camera_id"]) if camera else 0.5,
    review.THRESHOLD_STEP,
    format="%.3f",
    key="cctv_threshold",
    help="Frames scoring at or above this form alert segments (gaps under 1 s merged). It starts at the "
    "camera's threshold (calibrated from its dismissed alarms with `cctv calibrate`), else 0.5.",
)
segments = result.segments(threshold)
labels = review.segment_labels(segments, recording_start)
selected = st.selectbox(
    "Jump to segment",
    range(len(segments)),
    format_func=labels.__getitem__,
    key="cctv_segment",
    placeholder="Pick an alert segment" if segments else "No alert segment at this threshold",
)
selected = selected if selected is not None and selected < len(segments) else None
st.plotly_chart(charts.score_figure(result.frame_scores, result.fps, threshold, segments, selected), key="cctv_curve")

keyframes = _keyframes(str(path), sha256, tuple(s.peak_frame for s in segments)) if segments else []
left, right = st.columns([3, 2])
with left:
    st.markdown(f"**Alert segments** ({len(segments)})")
    if segments:
        st.dataframe(review.segments_table(segments, recording_start), hide_index=True, key="cctv_segments")
        if result.features is not None:
            heads = _heads(str(weights), weights.stat().st_mtime_ns)
            snippet_s = scorer.spec.snippet_len / result.fps
            classes = retrain.classify_segments(scorer, heads, result.features, snippet_s, segments)
            st.dataframe(classes, hide_index=True, key="cctv_classes")
            st.caption(
                "Type, instrument and severity from the model's classification heads (`cctv retrain`); "
                "“not enough labelled examples” where too few labels trained one."
            )
    else:
        st.caption(review.no_alert_note(result, threshold))
with right:
    _player(result.info, sha256, int(segments[selected].start_s) if selected is not None else 0, limits)
if keyframes:
    st.markdown("**Key frames at the segment peaks**")
    cols = st.columns(4)
    for i, (jpeg, s) in enumerate(zip(keyframes, segments)):
        cols[i % 4].image(jpeg, caption=f"#{i + 1} at {review.clock(s.peak_s, recording_start)} · {s.peak:.3f}")

st.subheader("Save the review")
if camera is None:
    st.info(review.no_camera_note(user.may("cameras")))
else:
    with st.form("cctv_save", clear_on_submit=True):
        note = st.text_area(
            "Reviewer note", key="cctv_note", max_chars=store.MAX_NOTE, placeholder="What you saw, what was done"
        )
        save = st.form_submit_button(f"Save report for {camera['name']}", type="primary")
    if save:
        record = report.build_report(
            result, camera, clip_name, sha256, threshold, user.username, note, recording_start=recording_start
        )
        try:
            report_id = store.save_report(con, record, keyframes, result.features, scorer.spec.to_dict())
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
    review.exporter(con, user.username, record, frames, "json"),
    f"cctv-report-{report_id}.json",
    "application/json",
    key="cctv_json",
)
d2.download_button(
    "Download PDF",
    review.exporter(con, user.username, record, frames, "pdf"),
    f"cctv-report-{report_id}.pdf",
    "application/pdf",
    key="cctv_pdf",
)


def _or_dash(value) -> str:
    return str(value) or "—"


st.subheader("Label this review")
st.caption(
    "Labels train the detector and its type, instrument and severity heads (`python -m crimeviz cctv retrain`). "
    "Type, instrument and severity describe true alarms only."
)
if current_label := cctv_labels.label_for(con, "report", int(report_id)):
    st.caption(
        f"Labelled {current_label['verdict']} by {html.escape(str(current_label['labelled_by']))}; "
        "saving again replaces that label."
    )
first = record["segments"][0] if record["segments"] else {"start_s": 0.0, "end_s": record["clip"]["duration_s"]}
with st.form("cctv_label", clear_on_submit=False):
    l1, l2, l3 = st.columns(3)
    verdict = l1.radio(
        "Verdict",
        cctv_labels.VERDICTS,
        horizontal=True,
        key="cctv_label_verdict",
        format_func={"true": "true alarm", "false": "false alarm", "unsure": "unsure"}.get,
    )
    event_type = l2.selectbox("Type", ["", *cctv_labels.event_types(con)], key="cctv_label_type", format_func=_or_dash)
    instrument = l3.selectbox(
        "Instrument", ["", *cctv_labels.INSTRUMENTS], key="cctv_label_instrument", format_func=_or_dash
    )
    severity = l1.selectbox("Severity (1–10)", ["", *range(1, 11)], key="cctv_label_severity", format_func=_or_dash)
    duration = float(record["clip"]["duration_s"])
    start_s = l2.number_input("Starts (s)", 0.0, duration, float(first["start_s"]), 0.1, key="cctv_label_start")
    end_s = l3.number_input("Ends (s)", 0.0, duration, min(duration, float(first["end_s"])), 0.1, key="cctv_label_end")
    correct = st.checkbox("Correct the segment bounds to these times", key="cctv_label_correct")
    label_note = st.text_input("Label note", key="cctv_label_note", max_chars=cctv_labels.MAX_NOTE)
    labelled = st.form_submit_button("Save label")
if labelled:
    true_alarm = verdict == "true"
    values = {
        "source": "report",
        "source_id": int(report_id),
        "verdict": verdict,
        "event_type": event_type if true_alarm else None,
        "instrument": instrument if true_alarm else None,
        "severity": severity if true_alarm else None,
        "start_s": start_s if correct else None,
        "end_s": end_s if correct else None,
        "note": label_note,
    }
    try:
        cctv_labels.save_label(con, values, user.username, origin="page")
    except ValueError as exc:
        st.error(f"The label was not saved: {exc}.")
    else:
        st.success(f"Label saved for report #{report_id}.")
e1, e2 = st.columns(2)
for column, kind, mime in ((e1, "csv", "text/csv"), (e2, "json", "application/json")):
    column.download_button(
        f"Download all labels ({kind.upper()})",
        lambda kind=kind: cctv_labels.export(con, kind, user.username),
        f"cctv-cctv_labels.{kind}",
        mime,
        key=f"cctv_labels_{kind}",
    )
if user.may("models"):
    with st.expander("Incident types reviewers choose from (administrators)"), st.form("cctv_label_types"):
        text = st.text_area("One type per line", "\n".join(cctv_labels.event_types(con)), key="cctv_types_text")
        if st.form_submit_button("Save the type list"):
            try:
                cctv_labels.set_event_types(con, text.splitlines(), user.username)
            except ValueError as exc:
                st.error(f"The list was not saved: {exc}.")
            else:
                st.success("Type list saved.")
if nearby := review.nearby_incidents(con, user, record["camera"]):
    caption, incidents = nearby
    st.caption(html.escape(caption))
    if not incidents.empty:
        st.dataframe(incidents, hide_index=True, key="cctv_nearby")
