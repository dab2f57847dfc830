"""Every page through streamlit.testing: no exceptions, expected elements, filters change results."""

import json
from datetime import date

import pytest
from streamlit.testing.v1 import AppTest

from crimeviz.access import auth
from tests.conftest import ROOT


def page(name: str, role: str = "admin") -> AppTest:
    """A page script as signed in with ``role`` (None: signed out)."""
    at = AppTest.from_file(str(ROOT / "app_pages" / f"{name}.py"), default_timeout=120)
    if role:
        at.session_state["user"] = auth.User(f"test-{role}", f"Test {role}", role)
    return at


def deck_specs(at: AppTest) -> list[dict]:
    return [json.loads(e.proto.json) for e in at.get("deck_gl_json_chart")]


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


@pytest.fixture
def map_page(app_db):
    return page("map").run()


def test_offline_map_offers_the_leaflet_download_without_a_tab(map_page):
    assert not map_page.tabs  # no basemap: no Leaflet view to show
    assert "Download this map as a Leaflet HTML file" in [b.label for b in map_page.get("download_button")]


def test_online_map_adds_the_leaflet_view(app_db, monkeypatch):
    monkeypatch.setenv("CRIMEVIZ_BASEMAP", "carto")
    at = page("map").run()
    assert not at.exception
    assert [t.label for t in at.tabs] == ["Map", "Leaflet (Folium) view"]
    assert "cartocdn" in deck_specs(at)[0]["mapStyle"]


def test_map_page_renders_hexes_with_context_layers(map_page):
    assert not map_page.exception
    spec = deck_specs(map_page)[0]
    ids = [layer["id"] for layer in spec["layers"]]
    assert ids[:3] == ["city-outline", "incident-hexes", "neighbourhoods"]
    assert set(ids[3:]) <= {"deviance-scores", "cctv-reports"}  # present once other tests stored some
    hexes = spec["layers"][1]["data"]
    assert len(hexes) > 500 and all(isinstance(h["cell"], str) and h["cell"].startswith("88") for h in hexes)
    assert "http" not in map_page.get("deck_gl_json_chart")[0].proto.json  # offline: no tiles, no styles
    # deck.gl shows a "text" tooltip with innerText: data never becomes HTML.
    assert json.loads(map_page.get("deck_gl_json_chart")[0].proto.tooltip) == {"text": "{tooltip}"}
    assert [s.value for s in map_page.subheader] == ["Cell detail"]
    assert not map_page.get("plotly_chart")  # the detail panel waits for a cell
    busiest = spec["layers"][1]["data"][0]["cell"]
    map_page.selectbox(key="map_cell").set_value(busiest).run()
    assert len(map_page.get("plotly_chart")) == 4
    assert busiest in map_page.markdown[-1].value or any(busiest in m.value for m in map_page.markdown)


def test_map_filter_changes_counts_and_keeps_view(map_page):
    before = metric(map_page, "Incidents")
    view_before = deck_specs(map_page)[0]["initialViewState"]
    map_page.multiselect(key="f_offences").set_value(["Robbery"]).run()
    assert not map_page.exception
    after = metric(map_page, "Incidents")
    assert int(after.replace(",", "")) < int(before.replace(",", ""))
    assert deck_specs(map_page)[0]["initialViewState"] == view_before


def test_map_resolution_and_optional_layers(map_page):
    map_page.radio(key="map_res").set_value(9)
    map_page.multiselect(key="map_layers").set_value(["Hexagons", "Heatmap", "Points"]).run()
    spec = deck_specs(map_page)[0]
    assert [layer["id"] for layer in spec["layers"]] == [
        "city-outline",
        "incident-hexes",
        "incident-heatmap",
        "incident-points",
    ]
    assert spec["layers"][1]["data"][0]["cell"].startswith("89")
    assert len(spec["layers"][3]["data"]) == 5_000 < int(metric(map_page, "Incidents").replace(",", ""))
    assert any("a sample of 5,000" in c.value for c in map_page.caption)


def test_map_empty_filter_result_says_so(map_page):
    map_page.multiselect(key="f_offences").set_value(["Theft Over"])
    map_page.multiselect(key="f_premises").set_value(["Educational"])
    map_page.slider(key="f_hours").set_value((3, 3))
    map_page.multiselect(key="f_weekdays").set_value(["Sun"])
    map_page.date_input(key="f_dates").set_value((date(2021, 12, 1), date(2021, 12, 2))).run()
    assert not map_page.exception
    assert "No incidents match" in map_page.warning[0].value


def test_map_invalid_filter_gives_a_message(map_page):
    map_page.multiselect(key="f_weekdays").set_value([]).run()
    assert not map_page.exception
    assert "choose at least one weekday" in map_page.error[0].value


def test_trends_page(app_db):
    at = page("trends").run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 4
    assert len(at.dataframe) == 2  # CompStat tables, 28 and 365 days
    weekly = metric(at, "Incidents in period")
    at.multiselect(key="f_offences").set_value(["Assault"]).run()
    assert metric(at, "Incidents in period") != weekly
    at.radio(key="trend_freq").set_value("Daily").run()
    assert not at.exception


def test_hotspots_page(app_db):
    at = page("hotspots").run()
    assert not at.exception
    ids = [json.loads(d.proto.json)["layers"][1]["id"] for d in at.get("deck_gl_json_chart")]
    assert ids == ["gi-star", "kernel-density"]
    hot = int(metric(at, "Significant hot spots").replace(",", ""))
    assert hot > 0
    at.selectbox(key="hot_alpha").set_value(0.01).run()
    assert int(metric(at, "Significant hot spots").replace(",", "")) <= hot


def test_data_page_imports_an_upload_and_reports_rejects(app_db):
    at = page("data").run()
    assert not at.exception
    csv = b"Date,Primary Type,Latitude,Longitude\n2021-06-01 10:00:00,THEFT,43.65,-79.38\n2021-06-01 11:00:00,THEFT,,\n"
    at.file_uploader(key="upload").set_value(("upload.csv", csv, "text/csv")).run()
    assert not at.exception
    assert at.selectbox(key="map_lat").value == "Latitude"
    at.button(key="import_submit").click().run()  # the form's Import button
    assert not at.exception
    assert "Imported 1 new incidents" in at.success[0].value
    assert "1 rows were rejected" in at.warning[0].value
    sources = next(d.value for d in at.dataframe if "incidents" in d.value.columns)
    assert "upload" in sources["source"].tolist()  # the table above the form shows the import


def test_data_page_refuses_an_unreadable_upload(app_db):
    at = page("data").run()
    at.file_uploader(key="upload").set_value(("broken.csv", b"\xff\xfe\x00garbage", "text/csv")).run()
    assert not at.exception
    assert "Cannot import this file" in at.error[0].value


@pytest.mark.parametrize(
    "name, allowed, refused",
    [
        ("map", "analyst", "reviewer"),
        ("trends", "commander", "reviewer"),
        ("hotspots", "analyst", "reviewer"),
        ("data", "admin", "analyst"),
        ("admin", "admin", "commander"),
    ],
)
def test_pages_check_the_role_not_just_the_menu(app_db, name, allowed, refused):
    assert not page(name, allowed).run().exception
    denied = page(name, refused).run()
    assert not denied.exception
    assert denied.error[0].value.startswith("Access denied")
    assert not denied.get("deck_gl_json_chart") and not denied.get("file_uploader")
    anonymous = page(name, None).run()
    assert anonymous.error[0].value == "Access denied: sign in first."


def test_data_page_full_disk_gives_a_message_and_stores_nothing(app_db, monkeypatch):
    import shutil as shutil_module

    def disk_full(src, dst, length=0):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil_module, "copyfileobj", disk_full)
    at = page("data").run()
    at.file_uploader(key="upload").set_value(("big.csv", b"a,b\n1,2\n", "text/csv")).run()
    assert not at.exception
    assert "No space left on device" in at.error[0].value and "nothing was saved" in at.error[0].value


def test_map_shows_street_view_scores_and_cctv_reports(app_db):
    from types import SimpleNamespace

    from crimeviz.cctv import store as cctv_store
    from crimeviz.store import db
    from crimeviz.streetview import store as sv_store
    from crimeviz.streetview.checkpoints import Score

    con = db.connect(app_db)
    sv_store.save_scores(
        con,
        [("walk-1", 43.6532, -79.3832, Score((0, 0, 0.1, 0.2, 0.7), 0.7))],
        SimpleNamespace(name="DevianceNet-Lite", sha256="ab" * 32),
        "tester",
    )
    camera_id = cctv_store.add_camera(con, "<b>Yonge & Dundas</b>", 43.6561, -79.3802, "tester")
    clip = {
        "name": "c.mp4",
        "sha256": "cd" * 32,
        "duration_s": 10.0,
        "fps": 10.0,
        "n_frames": 100,
        "width": 64,
        "height": 48,
    }
    report_id = cctv_store.save_report(
        con,
        {
            "camera": cctv_store.camera(con, camera_id),
            "created_at": "2021-06-01T12:00:00",
            "clip": clip,
            "threshold": 0.5,
            "peak": 0.93,
            "segments": [{"start_s": 1.0, "end_s": 3.0, "peak": 0.93}],
            "frame_scores": [0.1] * 100,
            "model": {"version": "demo", "label": "demo"},
            "reviewer": "tester",
        },
        [],
    )
    con.close()
    at = page("map")
    at.session_state["f_dates"] = (date(2021, 1, 1), date(2021, 12, 31))
    at.run()
    layers = {layer["id"]: layer for layer in deck_specs(at)[0]["layers"]}
    tip = layers["deviance-scores"]["data"][-1]["tooltip"]
    assert "DevianceNet class: 5" in tip and "P(deviance): 70%" in tip
    report = next(r for r in layers["cctv-reports"]["data"] if f"CCTV report: {report_id}" in r["tooltip"])
    assert "Camera: <b>Yonge & Dundas</b>" in report["tooltip"]  # plain text: shown, never rendered
    nearby = int(report["tooltip"].split("(filter dates): ")[1])
    assert nearby > 0  # Yonge & Dundas has incidents within 250 m in 2021
