"""Live cameras: a tile per camera (latest frame, state, rolling scores) and the queue of alerts.

The page only reads what ``python -m crimeviz monitor`` writes. ``?alert=ID`` opens one
alert on its own, laid out for a phone (the link every ping carries): snapshot, clip,
location, time, the promoted model's classification (type, instrument, severity), and the
buttons to acknowledge, confirm or dismiss it with a note.
"""

import json
from pathlib import Path

import pandas as pd
import streamlit as st

from crimeviz.cctv import cameras
from crimeviz.cctv.live import alert_store, live_report, motion
from crimeviz.cctv.live.recorder import clip_parts
from crimeviz.explore import maps
from crimeviz.store import audit, counts
from crimeviz.web import tiles, ui

REFRESH_S = 2
STATE_COLOURS = {
    "online": "green",
    "reconnecting": "orange",
    "connecting": "orange",
    "offline": "red",
    "failed": "red",
    "off schedule": "blue",
}
NEARBY_M = 300
ACTIONS = (("acknowledge", "Acknowledge"), ("confirm", "Confirm"), ("dismiss", "Dismiss"))

user = ui.require("cctv")
con = ui.connection()


def _when(moment) -> str:
    return "—" if moment is None or pd.isna(moment) else pd.Timestamp(moment).strftime("%Y-%m-%d %H:%M:%S")


def _audit_download(alert_id: int) -> None:
    audit.record(con, user.username, "cctv.alert.report_export", "cctv_alert", alert_id)


def show_alert(alert_id: int) -> None:
    """One alert: what the ping links to (one column, so it reads on a phone)."""
    row = alert_store.alert(con, alert_id)
    if row is None:
        st.error(f"There is no alert #{alert_id}.")
        return
    st.subheader(f"Alert #{alert_id}: {ui.plain(row['camera'])}")
    st.text(
        f"Started {_when(row['started_at'])} · "
        + (f"ended {_when(row['ended_at'])}" if row["ended_at"] else "still going")
        + "\n"
        f"Peak score {row['peak']:.3f} ({row['severity']}) · threshold {row['threshold']:.2f}\n"
        f"Location {row['lat']:.5f}, {row['lon']:.5f} · status {row['status']}"
        + (f" by {row['reviewed_by']}" if row["reviewed_by"] else "")
    )
    st.text(f"Classification: {live_report.classification_text(row['classification'])}")
    st.caption(f"Model {row['model_version']}: {row['model_label']}")
    if row["snapshot"] and Path(row["snapshot"]).is_file():
        st.image(Path(row["snapshot"]).read_bytes(), caption="Snapshot at the peak")
    for clip in clip_parts(Path(row["clip"]).parent) if row["clip"] else []:  # a reopened alert has parts
        st.video(clip.read_bytes(), format="video/mp4")
    curve = alert_store.curve_frame(row["curve"])
    if not curve.empty:
        st.line_chart(curve, y="score", height=160)
    camera = pd.DataFrame({"lat": [row["lat"]], "lon": [row["lon"]], "color": [[200, 0, 0, 230]]})
    camera["tooltip"] = [f"{row['camera']} · alert #{alert_id}"]
    layers = [ui.map_context(con)["outline"], maps.marker_layer(camera, "live-alert-camera")]
    view = maps.view_for((row["lat"] - 0.01, row["lat"] + 0.01, row["lon"] - 0.014, row["lon"] + 0.014))
    st.pydeck_chart(maps.deck(layers, view, tiles.basemap(con), height=260), height=260, key=f"live_map_{alert_id}")
    nearby = counts.incidents_near(con, row["lat"], row["lon"], NEARBY_M)
    st.caption(f"{len(nearby)} recorded incidents within {NEARBY_M} m of the camera; the most recent:")
    if not nearby.empty:
        st.dataframe(nearby.sort_values("occurred_at", ascending=False).head(10), hide_index=True, width="stretch")
    if row["report_pdf"] and Path(row["report_pdf"]).is_file():
        st.download_button(
            "Report (PDF)" + ("" if row["report_complete"] else ", preliminary"),
            Path(row["report_pdf"]).read_bytes(),
            file_name=f"cctv-alert-{alert_id}.pdf",
            mime="application/pdf",
            on_click=_audit_download,
            args=(alert_id,),
        )
    with st.form(f"review_{alert_id}"):
        note = st.text_area("Note", row["note"], max_chars=alert_store.MAX_NOTE)
        buttons = st.columns(len(ACTIONS))
        chosen = [action for (action, label), col in zip(ACTIONS, buttons) if col.form_submit_button(label)]
    if chosen:
        try:
            status = alert_store.review(con, alert_id, chosen[0], note, user.username)
        except ValueError as exc:
            st.error(f"Not saved: {exc}.")
        else:
            ui.rerun_after_write(f"Alert #{alert_id} {status}.")


@st.fragment(run_every=REFRESH_S)
def camera_tiles() -> None:
    cams = alert_store.camera_status(con)
    if cams.empty:
        st.info("No live cameras yet: an administrator adds them with `python -m crimeviz cameras add`.")
        return
    columns = st.columns(3)
    for i, cam in enumerate(cams.itertuples()):
        with columns[i % 3].container(border=True):
            fps = "" if pd.isna(cam.fps) else f" · {cam.fps:.1f} fps"
            st.badge(cam.state, color=STATE_COLOURS.get(cam.state, "gray"))
            st.text(f"{cam.name}: {cam.state}{fps}")
            if cam.latest_jpeg is not None and not pd.isna(cam.updated_at):
                st.image(bytes(cam.latest_jpeg), caption=f"at {_when(cam.updated_at)}")
            if isinstance(cam.curve, str):
                curve = alert_store.curve_frame(cam.curve)
                if not curve.empty:
                    st.line_chart(curve, y="score", height=120)
            if isinstance(cam.last_error, str) and cam.state != "online":
                st.caption(f"Last problem: {cam.last_error}")


@st.fragment(run_every=REFRESH_S)
def alert_queue() -> None:
    queue = alert_store.alerts(con)
    if queue.empty:
        st.caption("No alerts.")
        return None
    shown = queue[["alert_id", "camera", "started_at", "ended_at", "peak", "severity", "status", "reviewed_by"]].copy()
    shown["classification"] = [
        live_report.classification_text(json.loads(c) if isinstance(c, str) else None) for c in queue["classification"]
    ]
    st.dataframe(shown, hide_index=True, width="stretch")


def camera_settings() -> None:
    """Add or change a live camera (administrators); masks and zones are previewed on its latest frame."""
    configs = {c.name: c for c in cameras.all_cameras(con)}
    pick = st.selectbox("Camera", ["New camera", *configs], key="live_cam_pick")
    cfg = configs.get(pick)
    frames = alert_store.camera_status(con).set_index("name")["latest_jpeg"] if configs else {}
    latest = frames.get(pick) if cfg is not None else None
    if latest is not None and not pd.isna(latest):
        preview = motion.areas_preview(bytes(latest), cfg.masks, [p for _, p in cfg.zones])
        if preview:
            st.image(preview, caption="Latest frame: masks shaded red (ignored), zones outlined green (watched)")
    d = cfg or cameras.CameraConfig("new", "rtsp://", 43.6532, -79.3832)
    with st.form(f"live_cam_form_{pick}"):
        name = st.text_input("Name", "" if cfg is None else d.name, max_chars=100)
        url = st.text_input(
            "Stream URL: rtsp://, http(s):// or a video file on the server", "" if cfg is None else d.url
        )
        secret = st.text_input("User and password (user:password; empty keeps what is stored)", type="password")
        left, right = st.columns(2)
        lat = left.number_input("Latitude", -90.0, 90.0, float(d.lat), format="%.6f")
        lon = right.number_input("Longitude", -180.0, 180.0, float(d.lon), format="%.6f")
        fps = left.number_input("Frames analysed per second", 0.5, 30.0, float(d.detect_fps))
        schedule = right.text_input("Schedule (HH:MM-HH:MM; empty: always)", d.schedule or "")
        threshold = left.slider("Alert threshold", 0.05, 0.95, float(d.threshold), 0.05)
        hysteresis = right.number_input("Median of the last N snippets", 1, 15, int(d.hysteresis_n))
        min_duration = left.number_input("Minimum duration before a ping (s)", 0.0, 600.0, float(d.min_duration_s))
        cooldown = right.number_input("Cooldown (s)", 0.0, 3600.0, float(d.cooldown_s))
        pre = left.number_input("Clip before the alert (s)", 0.0, 60.0, float(d.pre_capture_s))
        post = right.number_input("Clip after the alert (s)", 0.0, 60.0, float(d.post_capture_s))
        enabled = st.checkbox("Enabled", d.enabled)
        masks = st.text_area("Motion masks: one polygon per line, x,y as fractions", cameras.polygons_text(d.masks))
        zones = st.text_area("Zones: one per line, 'name: x,y x,y x,y'", cameras.zones_text(d.zones))
        saved = st.form_submit_button("Save camera")
    if not saved:
        return
    try:
        stored_url, in_url = cameras.split_credentials(url) if url.strip() else ("", None)
        settings = {
            "name": name.strip(),
            "url": stored_url,
            "lat": lat,
            "lon": lon,
            "detect_fps": float(fps),
            "schedule": schedule.strip() or None,
            "threshold": float(threshold),
            "hysteresis_n": int(hysteresis),
            "min_duration_s": float(min_duration),
            "cooldown_s": float(cooldown),
            "pre_capture_s": float(pre),
            "post_capture_s": float(post),
            "enabled": enabled,
            "masks": cameras.parse_polygons(masks, "masks"),
            "zones": cameras.parse_zones(zones),
        }
        if secret or in_url:
            settings["credentials"] = secret or in_url
        if cfg is None:
            cameras.add(con, cameras.CameraConfig(**settings), user.username)
        else:
            cameras.edit(con, cfg.name, user.username, **settings)
    except ValueError as exc:
        st.error(f"Camera not saved: {exc}.")
    else:
        ui.rerun_after_write(f"Camera {name.strip()} saved.")


alert_param = st.query_params.get("alert")
if alert_param:
    st.markdown("[← All cameras](live)")
    ui.write_notice()
    if alert_param.isdigit():
        show_alert(int(alert_param))
    else:
        st.error("The link names no alert.")
    st.stop()

st.title("Live cameras")
ui.write_notice()
camera_tiles()
st.subheader("Alerts")
alert_queue()
if user.may("cameras") and st.toggle("Camera settings (administrators)", key="live_cam_settings"):
    camera_settings()
ids = alert_store.alerts(con)["alert_id"].tolist()
if ids:
    pick = st.selectbox("Open an alert", ids, format_func=lambda i: f"#{i}", index=None, key="live_alert_pick")
    if pick is not None:
        show_alert(int(pick))
