"""The bulletin: the PDF opens, holds its sections, and its figures are the library's numbers."""

import io
import json
import shutil
from datetime import date, datetime, timedelta

import pypdf
import pytest

from crimeviz.access import auth
from crimeviz.access.auth import AccessDenied, User
from crimeviz.bulletin import brief
from crimeviz.cctv import store as cctv_store
from crimeviz.cli import main as cli
from crimeviz.explore import hotspots, spikes
from crimeviz.forecast import predict
from crimeviz.store import areas, audit, db, queries
from crimeviz.store.filters import IncidentFilter

DAY = date(2021, 9, 23)  # a week with spike cells in the Toronto data
ANALYST = User("anna", "Anna Analyst", "analyst")
ADMIN = User("ada", "Ada Admin", "admin")
PASSWORD = "bulletin cli password"


@pytest.fixture(scope="module")
def store(toronto_db, tmp_path_factory):
    """A copy of the Toronto store (bulletins are audited) with one CCTV review that raised an alert."""
    path = tmp_path_factory.mktemp("bulletin") / "store.duckdb"
    shutil.copy(toronto_db, path)
    con = db.connect(path)
    cctv_store.ensure_tables(con)
    camera_id = cctv_store.add_camera(con, "Yonge & Dundas", 43.6561, -79.3802, "ada")
    for created, segments in (
        (datetime(2021, 9, 21, 14, 5), [{"start_s": 3.0, "end_s": 7.5}]),
        (datetime(2021, 8, 1), []),
    ):
        report = {
            "created_at": created.isoformat(),
            "camera": {"camera_id": camera_id, "name": "Yonge & Dundas", "lat": 43.6561, "lon": -79.3802},
            "clip": {
                "name": "dundas.mp4",
                "sha256": "0" * 64,
                "duration_s": 10.0,
                "fps": 25.0,
                "n_frames": 250,
                "width": 320,
                "height": 240,
            },
            "threshold": 0.5,
            "peak": 0.91,
            "segments": segments,
            "frame_scores": [0.1, 0.9],
            "model": {"version": "test", "label": "test model"},
            "reviewer": "rita",
        }
        cctv_store.save_report(con, report, [])
    yield con
    con.close()


@pytest.fixture(scope="module")
def analyst_bulletin(store):
    pdf, bulletin = brief.export(store, ANALYST, DAY, 7, forecast_method="mc365")
    return pdf, bulletin, "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)


SECTIONS = [
    "1. Incidents against the periods before",
    "2. Neighbourhoods: change against the period before",
    "3. Hot spots of the last 28 days",
    "4. Forecast",
    "5. Near-repeat series (last 28 days)",
    "6. Spikes: the 7 days to 23 Sep 2021 against the 365 days before",
    "7. CCTV alerts of the period",
]


def test_pdf_opens_with_every_section_and_its_figures(analyst_bulletin):
    pdf, _, text = analyst_bulletin
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 2 and reader.metadata.title == "CrimeViz bulletin: 7 days to Thu 23 Sep 2021"
    positions = [text.index(s) for s in SECTIONS]
    assert positions == sorted(positions)
    images = sum(len(page.images) for page in reader.pages)
    assert images == 5  # daily bars, offence bars, hot spot map, forecast map, spike and chain map


def test_counts_are_the_stores(analyst_bulletin, store):
    _, b, text = analyst_bulletin
    week = queries.total(store, IncidentFilter(DAY - timedelta(days=6), DAY))
    before = queries.total(store, IncidentFilter(DAY - timedelta(days=13), DAY - timedelta(days=7)))
    month = queries.total(store, IncidentFilter(DAY - timedelta(days=27), DAY))
    assert f"Last 7 days {week:,} {before:,} {week - before:+,}" in text
    assert f"Last 28 days {month:,}" in text
    robbery = queries.total(store, IncidentFilter(DAY - timedelta(days=6), DAY, ("Robbery",)))
    assert f"Robbery {robbery:,}" in text
    top = queries.neighbourhood_change(store, IncidentFilter(DAY, DAY), 7, top=1).iloc[0]
    assert f"{top['neighbourhood']} {top['current']:,} {top['previous']:,}" in text


def test_hot_spots_forecast_and_spikes_are_the_librarys(analyst_bulletin, store):
    _, b, text = analyst_bulletin
    cells = queries.study_cells(store, 8)
    gi = hotspots.gi_star(
        queries.cell_counts(store, IncidentFilter(DAY - timedelta(days=27), DAY), 8),
        cells,
        hotspots.kring_weights(cells, 1),
        permutations=99,
    )
    hottest = gi[gi["category"] == "Hot spot"].sort_values("z", ascending=False).iloc[0]
    assert f"1 {hottest['cell']}" in text and f"{hottest['z']:.2f}" in text
    forecast = predict.forecast_for_date(store, DAY + timedelta(days=1), method="mc365")
    first = forecast.iloc[0]
    assert f"1 {first['cell']}" in text and f"{first['intensity']:.2f}" in text
    assert "Fri 24 Sep 2021 (tomorrow) by Moving count, 365 days" in text
    found = spikes.cell_spikes(store, IncidentFilter(DAY, DAY), DAY, 8)
    found = found[found["spike"]]
    assert len(found) > 0 and all(f"Cell {c}" in text for c in found["cell"])
    before = spikes.cell_spikes(store, IncidentFilter(DAY, DAY), DAY - timedelta(days=7), 8)
    earlier = set(before.loc[before["spike"], "cell"])
    for cell in found["cell"]:
        row = next(line for line in text.splitlines() if line.startswith(f"Cell {cell}"))
        assert row.endswith("again" if cell in earlier else "new")
    assert f"{len(found)} spike cells among" in text


def test_roles_see_only_what_they_may(analyst_bulletin, store):
    _, b, text = analyst_bulletin
    assert "Not shown: the analyst role may not see CCTV reviews." in text and b.cctv is None
    _, admin = brief.export(store, ADMIN, DAY, 7, forecast_method="mc365")
    assert admin.cctv["camera"].tolist() == ["Yonge & Dundas"]  # the August review raised no alert
    with pytest.raises(AccessDenied):
        brief.export(store, User("rita", "Rita", "reviewer"), DAY, 7)


def test_the_export_is_audited(analyst_bulletin, store):
    _, b, _ = analyst_bulletin
    entry = audit.entries(store, action="bulletin.export", username="anna").iloc[0]
    detail = json.loads(entry["detail"])
    assert entry["object_id"] == "2021-09-23" and detail["period"] == 7
    assert detail["incidents"] == int(b.windows["current"].iloc[0]) and detail["forecast"] == "mc365"


def test_compstat_tables_per_area_of_a_layer(store):
    if areas.DEFAULT_LAYER not in areas.layer_names(store):
        areas.add_default_layer(store, "test")
    pdf, b = brief.export(store, ANALYST, DAY, 7, forecast_method="mc365", layer=areas.DEFAULT_LAYER)
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert "2. Areas: change against the period before" in text
    top = areas.compstat(store, areas.DEFAULT_LAYER, IncidentFilter(DAY, DAY), 28, top=1).iloc[0]
    assert f"{top['area']} {top['current']:,} {top['previous']:,}" in text
    with pytest.raises(ValueError, match="no area layer 'wards'"):
        brief.gather(store, ANALYST, DAY, 7, forecast_method="mc365", layer="wards")


def test_a_day_long_after_the_data_still_gets_a_bulletin_without_forecast(store):
    b = brief.gather(store, ANALYST, date(2022, 2, 1), 7, forecast_method="mc365")
    assert b.forecast is None and b.forecast_note.startswith("No forecast: the data end on 2021-12-31")
    assert int(b.windows["current"].iloc[0]) == 0 and "No forecast" in pypdf_text(brief.render(b))


def pypdf_text(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_bad_periods_and_dates_are_refused(store):
    with pytest.raises(ValueError, match="period must be 1 to 91 days"):
        brief.gather(store, ANALYST, DAY, 0)
    with pytest.raises(ValueError, match="before the first incident"):
        brief.gather(store, ANALYST, date(2000, 1, 1), 7)


@pytest.fixture
def cli_store(store, tmp_path, monkeypatch):
    path = tmp_path / "cli.duckdb"
    con = db.connect(path)
    con.execute("INSERT INTO incidents SELECT * FROM read_parquet(?)", [str(_incidents_parquet(store, tmp_path))])
    auth.add_user(con, "anna", PASSWORD, "analyst")
    con.close()
    monkeypatch.setenv("CRIMEVIZ_PASSWORD", PASSWORD)
    monkeypatch.delenv("CRIMEVIZ_USER", raising=False)
    return path


def _incidents_parquet(con, tmp_path):
    out = tmp_path / "incidents.parquet"
    con.execute(f"COPY (SELECT * FROM incidents WHERE occurred_at >= DATE '2020-06-01') TO '{out}' (FORMAT parquet)")
    return out


def test_cli_writes_the_pdf(capsys, cli_store, tmp_path):
    out = tmp_path / "out" / "bulletin.pdf"
    argv = ["bulletin", "--date", "2021-09-23", "--period", "7", "--out", str(out), "--user", "anna"]
    code = cli.main([*argv, "--forecast-method", "mc365", "--db", str(cli_store)])
    stdout, err = capsys.readouterr()
    assert (code, err) == (0, "")
    summary = json.loads(stdout)
    assert summary["out"] == str(out) and summary["bytes"] == out.stat().st_size and summary["cctv_alerts"] is None
    assert len(pypdf.PdfReader(out).pages) >= 2


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--date", "2021-09-23"], "give --user"),
        (["--date", "23/09/2021", "--user", "anna"], "--date must be a date as YYYY-MM-DD"),
        (["--date", "2021-09-23", "--period", "400", "--user", "anna"], "period must be 1 to 91 days"),
    ],
)
def test_cli_errors_are_one_line(capsys, cli_store, tmp_path, argv, message):
    out = tmp_path / "b.pdf"
    code = cli.main(["bulletin", *argv, "--out", str(out), "--db", str(cli_store)])
    stdout, err = capsys.readouterr()
    assert code == 2 and stdout == "" and err.count("\n") == 1 and message in err and not out.exists()


def test_live_camera_alerts_of_the_period_are_listed(store):
    """Alerts the live monitor raised in the period are in section 7 (those before it are not)."""
    from crimeviz.cctv.live import alert_store

    alert_store.ensure_tables(store)
    camera_id = store.execute("SELECT camera_id FROM cameras WHERE name = 'Yonge & Dundas'").fetchall()[0][0]
    with db.transaction(store):
        for started, peak in ((datetime(2021, 9, 22, 23, 15), 0.87), (datetime(2021, 9, 1, 2, 0), 0.95)):
            store.execute(
                "INSERT INTO cctv_alerts (camera_id, started_at, ended_at, last_seen_at, peak, peak_at, severity, "
                "status, note, lat, lon, threshold, model_version, model_label, report_complete, curve) "
                "VALUES (?, ?, ?, ?, ?, ?, 'alert', 'confirmed', '', 43.6561, -79.3802, 0.5, 'v', 'm', TRUE, '[]')",
                [camera_id, started, started + timedelta(seconds=20), started, peak, started],
            )
    pdf, b = brief.export(store, ADMIN, DAY, 7, forecast_method="mc365")
    assert b.live["peak"].tolist() == [0.87]
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert "Live camera alerts that started in the period:" in text and "22 Sep 23:15:00" in text
    assert "01 Sep" not in text
