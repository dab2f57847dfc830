"""Live CCTV alerts on the Map: read with their camera's place, label and the model's classification, filtered
by type, severity and detection class, kept in the share link, camera names shown as text, offered only to
roles with CCTV access and exported (audited) by them."""

import io
import json
import shutil
from datetime import date, datetime

import pandas as pd
import pytest

from crimeviz.access import auth
from crimeviz.cctv import cameras, labels, retrain
from crimeviz.cctv.live import alert_map, alert_store
from crimeviz.cctv.live.alerts import Segment
from crimeviz.store import audit, db
from crimeviz.store.safe_csv import read_csv
from crimeviz.web import ui
from tests.test_pages import deck_specs, page

GATE = "<img src=x onerror=alert(1)> Gate"
LANE = "Market Lane"
JUNE = (date(2021, 6, 1), date(2021, 6, 30))
LAYER = "cctv-live-alerts"


def store_alert(con, camera, start: datetime, peak: float, severity: str = "alert") -> int:
    """An alert the way the monitor writes it: opened, then closed five seconds later."""
    seg = Segment(start.timestamp(), start.timestamp() + 5, peak, start.timestamp() + 2, severity)
    seg.alert_id = alert_store.open_alert(con, camera, seg, ("demo", "synthetic demo"), [], start.timestamp())
    seg.end = start.timestamp() + 5
    alert_store.update_alert(con, seg)
    return seg.alert_id


def label(con, alert_id: int, verdict: str, **fields) -> None:
    labels.save_label(con, {"source": "alert", "source_id": alert_id, "verdict": verdict, **fields}, "rev")


@pytest.fixture(scope="module")
def june(app_db) -> dict[str, int]:
    """Six alerts in June 2021 at two cameras (one named with HTML) and one in July: labelled by a reviewer,
    classified by the model (one it could not classify), or neither."""
    con = db.connect(app_db)
    cameras.add(con, cameras.CameraConfig(GATE, "rtsp://127.0.0.1:9/gate", 43.6561, -79.3802), "boss")
    cameras.add(con, cameras.CameraConfig(LANE, "rtsp://127.0.0.1:9/lane", 43.6487, -79.3716), "boss")
    gate, lane = cameras.get(con, GATE), cameras.get(con, LANE)
    alert_store.ensure_tables(con)
    ids = {
        "robbery": store_alert(con, gate, datetime(2021, 6, 3, 22), 0.95),
        "vandalism": store_alert(con, lane, datetime(2021, 6, 10, 14), 0.81),
        "false": store_alert(con, lane, datetime(2021, 6, 12, 9), 0.72),
        "unlabelled": store_alert(con, gate, datetime(2021, 6, 30, 23, 30), 0.55, "detection"),
        "classified": store_alert(con, lane, datetime(2021, 6, 15, 1), 0.9),
        "abstained": store_alert(con, lane, datetime(2021, 6, 16, 1), 0.7),
        "july": store_alert(con, gate, datetime(2021, 7, 1, 0, 10), 0.9),
    }
    said = {"model_version": 3, "model": "retrained"}
    alert_store.set_files(
        con, ids["classified"], classification={**said, "event_type": "robbery", "instrument": "knife", "severity": 7}
    )
    unsure = dict.fromkeys(("event_type", "instrument", "severity"), retrain.NOT_ENOUGH)
    alert_store.set_files(con, ids["abstained"], classification={**said, **unsure})
    alert_store.set_files(  # the reviewer's label outranks the model
        con, ids["robbery"], classification={**said, "event_type": "vandalism", "instrument": "none", "severity": 2}
    )
    label(con, ids["robbery"], "true", event_type="robbery", instrument="knife", severity=8)
    label(con, ids["vandalism"], "true", event_type="vandalism", severity=3)
    label(con, ids["false"], "false")
    alert_store.review(con, ids["robbery"], "confirm", "seen on the clip", "rev")
    con.close()
    return ids


def ours(frame, ids: dict[str, int]):
    """The rows of this module's alerts (other tests' alerts may share the store), by name."""
    names = {v: k for k, v in ids.items()}
    return {names[int(r.alert_id)]: r for r in frame.itertuples() if int(r.alert_id) in names}


def test_alerts_of_the_dates_come_with_their_place_label_review_and_page(june, app_db):
    con = db.connect(app_db)
    found = ours(alert_map.alerts_for_map(con, *JUNE), june)
    con.close()
    assert set(found) == {"robbery", "vandalism", "false", "unlabelled", "classified", "abstained"}  # not July's
    robbery = found["robbery"]
    assert (robbery.camera, robbery.lat, robbery.lon) == (GATE, 43.6561, -79.3802)
    assert (robbery.type, robbery.instrument, robbery.severity, robbery.by) == ("robbery", "knife", 8, "reviewer")
    assert robbery.model.startswith("type vandalism")  # what the model said, beside the reviewer's word
    assert (robbery.detection, robbery.status, robbery.peak) == ("alert", "confirmed", 0.95)
    assert robbery.link == f"/live?alert={june['robbery']}"
    assert (found["false"].type, found["unlabelled"].type) == (alert_map.FALSE_ALARM, alert_map.UNLABELLED)
    assert found["unlabelled"].detection == "detection" and pd.isna(found["unlabelled"].severity)
    assert pd.isna(found["unlabelled"].by) and pd.isna(found["unlabelled"].model)
    classified = found["classified"]
    assert (classified.type, classified.instrument, classified.severity, classified.by) == (
        "robbery",
        "knife",
        7,
        "model",
    )
    abstained = found["abstained"]
    assert abstained.type == alert_map.UNLABELLED and pd.isna(abstained.instrument)
    assert (
        pd.isna(abstained.by)
        and pd.isna(abstained.severity)
        and abstained.model.startswith(f"type {retrain.NOT_ENOUGH}")
    )


def test_alerts_are_kept_by_type_lowest_severity_and_detection_class(june, app_db):
    con = db.connect(app_db)
    everything = alert_map.alerts_for_map(con, *JUNE)
    con.close()

    def kept(types, lowest, classes):
        return set(ours(alert_map.keep(everything, types, lowest, classes), june))

    assert kept([], 1, alert_map.CLASSES) == {"robbery", "vandalism", "false", "unlabelled", "classified", "abstained"}
    assert kept(["robbery"], 1, alert_map.CLASSES) == {"robbery", "classified"}
    assert kept([alert_map.UNLABELLED, "vandalism"], 1, alert_map.CLASSES) == {"vandalism", "unlabelled", "abstained"}
    assert kept([], 3, alert_map.CLASSES) == {"robbery", "vandalism", "classified"}  # unrated alerts leave above 1
    assert kept([], 5, alert_map.CLASSES) == {"robbery", "classified"}
    assert kept([], 8, alert_map.CLASSES) == {"robbery"}
    assert kept([], 1, ["detection"]) == {"unlabelled"}


def test_a_store_without_alert_tables_has_no_alerts_and_one_without_labels_calls_them_unlabelled(tmp_path):
    con = db.connect(tmp_path / "old.duckdb")
    assert alert_map.alerts_for_map(con, *JUNE).empty
    alert_store.ensure_tables(con)  # the live tables, not the label ones
    assert "cctv_labels" not in db.table_names(con)
    cameras.add(con, cameras.CameraConfig(LANE, "rtsp://127.0.0.1:9/lane", 43.6487, -79.3716), "boss")
    alert_id = store_alert(con, cameras.get(con, LANE), datetime(2021, 6, 10, 14), 0.81)
    found = alert_map.alerts_for_map(con, *JUNE)
    con.close()
    assert found["alert_id"].tolist() == [alert_id] and found["type"].tolist() == [alert_map.UNLABELLED]


def map_with_alerts(role: str = "admin", **state):
    at = page("map", role)
    at.session_state["f_dates"] = JUNE
    at.session_state["map_layers"] = ["Hexagons", "CCTV alerts"]
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def markers(at) -> dict[int, str]:
    """Alert id -> tooltip of the alert markers drawn."""
    layer = next((x for x in deck_specs(at)[0]["layers"] if x["id"] == LAYER), {"data": []})
    return {int(row["tooltip"].split("\n")[0].split(": ")[1]): row["tooltip"] for row in layer["data"]}


def table(at) -> pd.DataFrame:
    """The alert table under the map."""
    return at.table[0].value


def shown(at, ids: dict[str, int]) -> set[str]:
    names = {v: k for k, v in ids.items()}
    drawn = {names[i] for i in markers(at) if i in names}
    listed = {names[int(i)] for i in table(at)["alert"] if int(i) in names}
    assert drawn == listed  # the table lists what the map shows
    return drawn


def test_the_map_layer_shows_the_alerts_and_its_filters_narrow_them(june, app_db):
    at = map_with_alerts()
    assert not at.exception
    assert shown(at, june) == {"robbery", "vandalism", "false", "unlabelled", "classified", "abstained"}
    at.multiselect(key="map_alert_types").set_value(["robbery"]).run()
    assert shown(at, june) == {"robbery", "classified"}
    at.multiselect(key="map_alert_types").set_value([]).run()
    at.slider(key="map_alert_severity").set_value(8).run()
    assert shown(at, june) == {"robbery"}
    at.slider(key="map_alert_severity").set_value(1)
    at.multiselect(key="map_alert_classes").set_value(["detection"]).run()
    assert shown(at, june) == {"unlabelled"}
    tip = markers(at)[june["unlabelled"]]
    assert "Type: unlabelled" in tip and "Severity: not rated" in tip and "Detection: detection" in tip
    at.multiselect(key="map_alert_classes").set_value(["alert"]).run()
    tip = markers(at)[june["classified"]]
    assert "Type: robbery" in tip and "Severity: 7 of 10" in tip and "Type and severity by: model" in tip


def test_alert_tooltips_and_table_keep_an_html_camera_name_as_text(june, app_db):
    at = map_with_alerts(map_alert_types=["robbery"], map_alert_severity=8)
    tip = markers(at)[june["robbery"]]
    assert tip.startswith(f"Live CCTV alert: {june['robbery']}\nCamera: {GATE}\nStarted: 2021-06-03 22:00:00\n")
    assert "Peak anomaly score: 0.95" in tip and "Type: robbery" in tip and "Instrument: knife" in tip
    assert "Severity: 8 of 10" in tip and "Type and severity by: reviewer" in tip and "Review: confirmed" in tip
    # deck.gl shows a "text" tooltip with innerText, and the table's cells are text: never HTML.
    assert json.loads(at.get("deck_gl_json_chart")[0].proto.tooltip) == {"text": "{tooltip}"}
    assert table(at)["camera"].tolist() == [ui.plain(GATE)]  # st.table renders Markdown: the name is escaped
    assert not any("<img" in m.value for m in at.markdown)


def test_the_alert_layer_is_offered_to_cctv_roles_only(june, app_db):
    admin = map_with_alerts(map_alert_types=["robbery"], map_alert_severity=8)
    assert table(admin)["page"].tolist() == [f"[open](/live?alert={june['robbery']})"]
    assert "CCTV alerts" in admin.multiselect(key="map_layers").options
    for role in ("analyst", "commander"):
        assert not auth.User("x", "x", role).may("cctv")
        at = map_with_alerts(role)
        assert not at.exception and not at.error
        assert "CCTV alerts" not in at.multiselect(key="map_layers").options
        assert "CCTV alerts" not in at.session_state["map_layers"]
        assert not at.table and not markers(at)
        assert not [w for w in at if getattr(w, "key", None) in ("map_alert_types", "map_alert_csv")]


def test_a_permitted_users_alert_csv_is_audited_and_spreadsheet_safe(june, app_db):
    con = db.connect(app_db)
    listed = alert_map.alerts_for_map(con, *JUNE).loc[lambda x: x["alert_id"].isin(june.values())].head(2)
    listed.loc[listed.index[0], "camera"] = "=HYPERLINK(1)"
    with pytest.raises(auth.AccessDenied):
        alert_map.alerts_csv(con, auth.User("a", "A", "analyst"), listed, *JUNE)
    before = len(audit.entries(con, action="map.export.alerts_csv"))
    data = alert_map.alerts_csv(con, auth.User("rev", "Rev", "reviewer"), listed, *JUNE)
    entries = audit.entries(con, action="map.export.alerts_csv")
    con.close()
    assert len(entries) == before + 1 and entries.iloc[0]["username"] == "rev"
    assert json.loads(entries.iloc[0]["detail"]) == {"rows": 2, "alerts": [int(a) for a in listed["alert_id"]]}
    assert data.decode().splitlines()[1].split(",")[1] == "'=HYPERLINK(1)"  # text, not a formula
    assert read_csv(io.BytesIO(data))["alert_id"].tolist() == listed["alert_id"].tolist()


def test_the_map_offers_the_alert_csv_instead_of_the_tables_own_download(june, app_db):
    at = map_with_alerts(map_alert_types=["robbery"], map_alert_severity=8)
    assert not at.dataframe  # st.dataframe's toolbar download could not be audited
    button = next(b for b in at.get("download_button") if "alerts listed" in b.proto.label)
    assert button.proto.label == "Download the 1 alerts listed (CSV)"


def test_the_alert_layer_and_its_filters_travel_in_the_share_link(june, app_db):
    at = map_with_alerts()
    at.multiselect(key="map_alert_types").set_value(["robbery", "vandalism"])
    at.slider(key="map_alert_severity").set_value(3)
    at.multiselect(key="map_alert_classes").set_value(["alert"])
    at.radio(key="map_alert_colour").set_value("severity").run()
    link = dict(at.query_params)
    assert link["layers"] == ["Hexagons", "CCTV alerts"] and link["alert_type"] == ["robbery", "vandalism"]
    assert (link["alert_severity"], link["alert_class"], link["alert_colour"]) == ("3", "alert", "severity")
    drawn = markers(at)

    colleague = page("map", "admin")
    colleague.query_params.update(link)
    colleague.run()
    assert not colleague.exception and not colleague.warning
    assert colleague.session_state["map_alert_types"] == ["robbery", "vandalism"]
    assert colleague.session_state["map_alert_severity"] == 3
    assert colleague.session_state["map_alert_classes"] == ["alert"]
    assert colleague.radio(key="map_alert_colour").value == "severity"
    assert markers(colleague) == drawn and shown(colleague, june) == {"robbery", "vandalism", "classified"}
    assert any("CCTV alerts by severity" in m.value for m in colleague.markdown)


def test_a_link_asking_an_analyst_for_the_alert_layer_opens_the_rest_of_the_view(june, app_db):
    at = map_with_alerts()
    at.multiselect(key="map_alert_types").set_value(["robbery"])
    at.slider(key="map_alert_severity").set_value(3).run()
    link = dict(at.query_params)
    assert link["layers"] == ["Hexagons", "CCTV alerts"] and link["alert_type"] == "robbery"

    analyst = page("map", "analyst")
    analyst.query_params.update(link)
    analyst.run()
    assert not analyst.exception and not analyst.error and not analyst.warning
    assert analyst.session_state["map_layers"] == ["Hexagons"]
    assert any("needs CCTV access" in c.value for c in analyst.caption)
    assert not analyst.table and not markers(analyst) and "map_alert_types" not in analyst.session_state
    assert analyst.query_params["layers"] in ("Hexagons", ["Hexagons"])
    assert not {"alert_type", "alert_severity"} & set(analyst.query_params)

    alone = page("map", "analyst")
    alone.query_params.update({"dates": "2021-06-01..2021-06-30", "layers": "CCTV alerts"})
    alone.run()
    assert not alone.exception and not alone.warning and not alone.table
    assert alone.session_state["map_layers"] == ["Hexagons", "Neighbourhoods", "Street-view deviance", "CCTV reports"]


def test_a_map_of_a_store_without_alert_tables_turns_the_layer_on_without_an_error(toronto_db, tmp_path, monkeypatch):
    old = tmp_path / "old.duckdb"
    shutil.copy(toronto_db, old)
    monkeypatch.setenv("CRIMEVIZ_DB", str(old))
    con = db.connect(old, read_only=True)
    assert "cctv_alerts" not in db.table_names(con)
    con.close()
    at = map_with_alerts()
    assert not at.exception and not at.error and not at.dataframe
    assert LAYER not in [x["id"] for x in deck_specs(at)[0]["layers"]]
    assert any("no live camera alert started in these dates" in c.value for c in at.caption)
