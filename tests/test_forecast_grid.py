"""Forecasts follow the store's grid: imported incidents in new cells or another city reach every
baseline, CDNA says what its checkpoint never saw, and ``forecast predict`` writes the day as JSON."""

import json
import shlex
from datetime import date, timedelta

import h3
import numpy as np
import pandas as pd
import pytest

from crimeviz.cli import forecast as forecast_cli
from crimeviz.cli import main as crimeviz_cli
from crimeviz.forecast import checkpoint, views
from crimeviz.forecast.frames import cells_with_incidents
from crimeviz.forecast.predict import METHODS, forecast_for_date, unseen_warning
from crimeviz.forecast.train import config_for_data, train_command
from crimeviz.store import db

FIRST, LAST = date(2023, 1, 1), date(2023, 4, 30)
DAY = LAST + timedelta(days=1)
TORONTO = (43.6534, -79.3841)  # City Hall: its cell and ring are in the committed checkpoint's grid
LONDON = (51.5072, -0.1276)  # too far from Toronto for one local IJ frame


def incidents_around(centre, offence: str, rate: float, seed: int) -> pd.DataFrame:
    """Poisson(``rate``) incidents a day of one offence in each of the 7 cells around ``centre``."""
    rng = np.random.default_rng(seed)
    middle = h3.latlng_to_cell(*centre, 8)
    rows = [
        {
            "occurred_at": pd.Timestamp(FIRST + timedelta(days=k)) + pd.Timedelta(hours=int(rng.integers(24))),
            "offence": offence,
            "premises": None,
            "neighbourhood": None,
            "lat": h3.cell_to_latlng(cell)[0],
            "lon": h3.cell_to_latlng(cell)[1],
        }
        for cell in h3.grid_disk(middle, 1)
        for k in range((LAST - FIRST).days + 1)
        for _ in range(rng.poisson(rate))
    ]
    frame = pd.DataFrame(rows)
    frame["occurred_at"] = frame["occurred_at"].astype("datetime64[us]")
    return frame


def store_of(path, *frames) -> str:
    con = db.connect(path)
    for frame in frames:
        db.insert_incidents(con, db.with_cells(frame, "imported"))
    con.close()
    return str(path)


@pytest.fixture(scope="module")
def two_cities(tmp_path_factory) -> str:
    """Toronto assaults in cells the checkpoint knows, London burglaries in cells and an offence it never saw."""
    toronto = incidents_around(TORONTO, "Assault", 1.0, 0)
    london = incidents_around(LONDON, "Burglary", 2.0, 1)
    return store_of(tmp_path_factory.mktemp("grid") / "two_cities.duckdb", toronto, london)


@pytest.fixture(scope="module")
def london_only(tmp_path_factory) -> str:
    return store_of(tmp_path_factory.mktemp("grid") / "london.duckdb", incidents_around(LONDON, "Burglary", 2.0, 1))


@pytest.mark.parametrize("method", [m for m in METHODS if m != "cdna"])
def test_baselines_cover_the_stores_grid_in_another_city(london_only, method):
    with db.connect(london_only, read_only=True) as con:
        forecast = forecast_for_date(con, DAY, "all", method)
        cells = {h3.int_to_str(c) for c in cells_with_incidents(con, 8)}
    assert set(forecast["cell"]) == cells and len(cells) == 7
    assert forecast["intensity"].sum() > 0


def test_a_new_cell_is_forecast_once_imported(tmp_path):
    path = store_of(tmp_path / "store.duckdb", incidents_around(TORONTO, "Assault", 1.0, 0))
    with db.connect(path, read_only=True) as con:
        before = forecast_for_date(con, DAY, "all", "mc28")
    newcomer = incidents_around((43.75, -79.20), "Assault", 3.0, 2)  # Scarborough, 7 more cells
    store_of(path, newcomer)
    with db.connect(path, read_only=True) as con:
        after = forecast_for_date(con, DAY, "all", "mc28")
    added = set(after["cell"]) - set(before["cell"])
    assert len(before) == 7 and len(added) == 7
    assert after.set_index("cell").loc[sorted(added), "intensity"].gt(0).all()


def test_cdna_says_how_much_of_the_store_its_checkpoint_never_saw(two_cities):
    with db.connect(two_cities, read_only=True) as con:
        forecast = forecast_for_date(con, DAY, "all", "cdna")
        london = con.execute("SELECT count(*) FROM incidents WHERE offence = 'Burglary'").fetchall()[0][0]
        total = db.incident_count(con)
    unseen = forecast.attrs["unseen"]
    assert len(forecast) == 840  # the checkpoint's grid
    assert (unseen["cells"], unseen["outside_cells"]) == (14, 7)
    assert (unseen["incidents"], unseen["outside_incidents"]) == (total, london)
    assert unseen["unknown_offences"] == ["Burglary"]
    warning = unseen_warning(unseen)
    assert f"never saw {london:,} of {total:,} incidents" in warning and "7 of 14 cells" in warning
    assert unseen_warning(unseen | {"outside_cells": 0, "outside_incidents": 0, "unknown_offences": []}) is None


def test_cdna_refuses_an_offence_it_was_not_trained_on(two_cities):
    with db.connect(two_cities, read_only=True) as con, pytest.raises(ValueError, match="not trained on 'Burglary'"):
        forecast_for_date(con, DAY, "Burglary", "cdna")


def test_cli_predict_writes_the_days_forecast_over_the_stores_grid(two_cities, tmp_path, capsys):
    out = tmp_path / "day.json"
    argv = ["forecast", "predict", "--db", two_cities, "--date", DAY.isoformat(), "--method", "promap"]
    assert crimeviz_cli.main([*argv, "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert (report["date"], report["method"]) == (DAY.isoformat(), "promap")
    with db.connect(two_cities, read_only=True) as con:
        grid = sorted(h3.int_to_str(c) for c in cells_with_incidents(con, 8))
    assert sorted(c["cell"] for c in report["cells"]) == grid
    assert all(set(c) == {"cell", "expected"} and c["expected"] >= 0 for c in report["cells"])

    assert crimeviz_cli.main([*argv[:-1], "cdna"]) == 0
    captured = capsys.readouterr()
    cdna = json.loads(captured.out)
    missing = [c["cell"] for c in cdna["cells"] if c["expected"] is None]
    assert len(cdna["cells"]) == 14 and len(missing) == 7  # the London cells: null, not a made-up zero
    assert captured.err.startswith("warning: The CDNA checkpoint never saw")


def test_cli_predict_refuses_bad_input_in_one_line(two_cities, capsys):
    assert crimeviz_cli.main(["forecast", "predict", "--db", two_cities, "--date", "2023-05-01", "--method", "x"]) == 2
    assert (
        crimeviz_cli.main(["forecast", "predict", "--db", two_cities, "--date", "2024-01-01", "--method", "mc7"]) == 2
    )
    errors = capsys.readouterr().err.splitlines()
    assert errors[0].startswith("error: unknown method 'x'") and "7 days past" in errors[1] and len(errors) == 2


def test_training_dates_for_data_outside_the_protocol():
    cfg = config_for_data(FIRST, LAST)
    assert (cfg.val_start, cfg.val_end, cfg.grid_end) == (date(2023, 4, 1), LAST, LAST)
    assert cfg.train_end == date(2023, 3, 31) and cfg.burn_in == 45  # half the 90 training days
    toronto = config_for_data(date(2014, 1, 1), date(2021, 12, 31))
    assert (toronto.train_end, toronto.val_end, toronto.grid_end) == (
        date(2019, 12, 31),
        date(2020, 12, 31),
        date(2021, 12, 31),
    )


def test_retraining_command_trains_cdna_on_the_data_at_hand_with_progress(london_only, tmp_path, capsys):
    out = tmp_path / "london.pt"
    command = shlex.split(train_command(config_for_data(FIRST, LAST), out))
    assert command[:4] == ["python", "-m", "crimeviz", "forecast"]
    assert forecast_cli.main([*command[4:], "--db", london_only, "--epochs", "1", "--threads", "1"]) == 0
    assert "train CDNA" in capsys.readouterr().err  # the progress bar
    forecaster = checkpoint.load(out)
    with db.connect(london_only, read_only=True) as con:
        assert sorted(forecaster.meta["cells"]) == sorted(h3.int_to_str(c) for c in cells_with_incidents(con, 8))
        forecast = forecast_for_date(con, DAY, "all", "cdna", checkpoint_path=out)
    assert unseen_warning(forecast.attrs["unseen"]) is None and len(forecast) == 7


def test_retrain_command_runs_the_app_with_the_new_checkpoint():
    lines = views.retrain_command(FIRST, LAST).splitlines()
    assert lines[0].startswith("python -m crimeviz forecast train --out data/models/cdna/retrained_h3r8.pt")
    assert lines[1] == "CRIMEVIZ_CDNA_CHECKPOINT=data/models/cdna/retrained_h3r8.pt make run"


def test_patrol_forecast_risk_sees_the_stores_grid(london_only):
    from crimeviz.patrol.risk import SHIFTS, ShiftHistory, surface

    with db.connect(london_only, read_only=True) as con:
        history = ShiftHistory(con, 8, SHIFTS["day"], {}, DAY, DAY)
        risk = surface(con, history, DAY, "forecast:mc28")
    assert len(history.cells) == 7 and (risk.lookup(history.cells) > 0).all()
