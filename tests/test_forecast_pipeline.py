"""Train → checkpoint → backtest → forecast_for_date → CLI on a synthetic store of a few weeks."""

import json
from dataclasses import replace
from datetime import date, timedelta

import h3
import numpy as np
import pandas as pd
import pytest

from crimeviz.cli import forecast as cli
from crimeviz.forecast import checkpoint
from crimeviz.forecast.evaluate import backtest
from crimeviz.forecast.predict import METHODS, forecast_for_date
from crimeviz.forecast.protocol import Protocol
from crimeviz.forecast.train import TrainConfig, train
from crimeviz.store import db

FIRST, LAST = date(2021, 1, 1), date(2021, 3, 28)
PROTOCOL = Protocol(
    train_end=date(2021, 2, 28),
    val_start=date(2021, 3, 1),
    val_end=date(2021, 3, 14),
    test_start=date(2021, 3, 15),
    test_end=LAST,
)
TINY = TrainConfig(
    train_end=PROTOCOL.train_end,
    val_start=PROTOCOL.val_start,
    val_end=PROTOCOL.val_end,
    context=5,
    horizon=2,
    rate_windows=(7, 28),
    burn_in=10,
    widths=(2, 2, 4, 4, 4, 4, 2),
    epochs=2,
    batch_size=4,
    stride=3,
    val_stride=2,
)


def synthetic_incidents(seed: int = 0) -> pd.DataFrame:
    """Poisson counts on the 19 cells around City Hall; busier cells near the centre."""
    rng = np.random.default_rng(seed)
    centre = h3.latlng_to_cell(43.6534, -79.3841, 8)
    rows = []
    for ring in range(3):
        for cell in h3.grid_ring(centre, ring):
            lat, lon = h3.cell_to_latlng(cell)
            for k in range((LAST - FIRST).days + 1):
                for _ in range(rng.poisson(1.5 / (1 + ring))):
                    rows.append(
                        {
                            "occurred_at": pd.Timestamp(FIRST + timedelta(days=k))
                            + pd.Timedelta(hours=int(rng.integers(24))),
                            "offence": str(rng.choice(["Assault", "Robbery"])),
                            "premises": None,
                            "neighbourhood": None,
                            "lat": lat,
                            "lon": lon,
                        }
                    )
    frame = pd.DataFrame(rows)
    frame["occurred_at"] = frame["occurred_at"].astype("datetime64[us]")
    return frame


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("forecast") / "synthetic.duckdb"
    con = db.connect(path)
    db.insert_incidents(con, db.with_cells(synthetic_incidents(), "synthetic"))
    con.close()
    return path


@pytest.fixture(scope="module")
def trained(store, tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    with db.connect(store, read_only=True) as con:
        forecaster = train(con, TINY, out, progress=False)
    return out, forecaster


def test_checkpoint_holds_weights_and_metadata(trained):
    path, forecaster = trained
    assert path.stat().st_size < 5_000_000
    meta = checkpoint.load(path).meta
    assert meta["data"]["train_end"] == "2021-02-28"
    assert meta["offences"] == ["Assault", "Robbery"]
    assert len(meta["cells"]) == 19
    assert {"all", "Assault", "Robbery"} <= set(meta["metrics"]["validation"])
    assert meta["training"]["best_epoch"] in (1, 2)
    assert meta["code_version"]["crimeviz"]


def test_training_is_deterministic_with_a_seed(store, trained):
    with db.connect(store, read_only=True) as con:
        again = train(con, replace(TINY, epochs=1), None, progress=False)
        once_more = train(con, replace(TINY, epochs=1), None, progress=False)
    for a, b in zip(again.model.state_dict().values(), once_more.model.state_dict().values()):
        assert np.array_equal(a.numpy(), b.numpy())


def test_backtest_reports_every_method_at_every_coverage(store, trained):
    path, _ = trained
    with db.connect(store, read_only=True) as con:
        report = backtest(
            con,
            PROTOCOL.test_start,
            PROTOCOL.test_end,
            tuple(METHODS),
            ("all", "Robbery"),
            checkpoint_path=path,
            protocol=PROTOCOL,
            tune=True,
            progress=False,
        )
    assert report["protocol"]["days"] == 14
    for group in ("all", "Robbery"):
        methods = report["groups"][group]["methods"]
        assert set(methods) == set(METHODS)
        for result in methods.values():
            for metric in ("hit_rate", "pai", "pei"):
                assert set(result[metric]) == {"1%", "2%", "5%", "10%", "20%"}
                assert 0 <= result["hit_rate"]["20%"]["mean"] <= 1
    json.dumps(report)


def test_forecast_for_date_ranks_every_cell(store, trained):
    path, _ = trained
    with db.connect(store, read_only=True) as con:
        cdna = forecast_for_date(con, LAST + timedelta(days=1), "all", "cdna", checkpoint_path=path)
        three_ahead = forecast_for_date(con, LAST + timedelta(days=3), "Robbery", "cdna", checkpoint_path=path)
        mc = forecast_for_date(con, date(2021, 3, 10), "all", "mc28", checkpoint_path=path)
        with pytest.raises(ValueError):
            forecast_for_date(con, LAST + timedelta(days=9), "all", "mc28", checkpoint_path=path)
    assert list(cdna.columns) == ["cell", "intensity", "rank"]
    assert len(cdna) == 19 and cdna["rank"].tolist() == list(range(1, 20))
    assert (cdna["intensity"] >= 0).all() and cdna["intensity"].is_monotonic_decreasing
    assert cdna.attrs["lead"] == 1 and three_ahead.attrs["lead"] == 3
    assert mc.attrs["data_until"] == "2021-03-09"
    assert all(h3.is_valid_cell(c) for c in mc["cell"])


def test_cli_evaluate_writes_the_issue_json(store, trained, tmp_path, capsys):
    path, _ = trained
    out = tmp_path / "eval.json"
    code = cli.main(
        [
            "evaluate",
            "--db",
            str(store),
            "--start",
            "2021-03-15",
            "--end",
            "2021-03-28",
            "--train-end",
            "2021-02-28",
            "--checkpoint",
            str(path),
            "--methods",
            "cdna,mc28,sepp",
            "--json",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    report = json.loads(out.read_text())
    assert report["protocol"]["period"] == "2021-03-15 .. 2021-03-28"
    assert set(report["groups"]["all"]["methods"]) == {"cdna", "mc28", "sepp"}
    assert "PAI" in capsys.readouterr().out


def test_cdna_shift_forecasts_are_the_whole_day_split_by_each_cells_shift_share(store, trained):
    from crimeviz.forecast import shifts

    path, _ = trained
    night = shifts.by_name("night")
    with db.connect(store, read_only=True) as con:
        whole = forecast_for_date(con, date(2021, 3, 20), "all", "cdna", checkpoint_path=path).set_index("cell")
        parts = [
            forecast_for_date(con, date(2021, 3, 20), "all", "cdna", checkpoint_path=path, shift=s.name)
            for s in shifts.configured()
        ]
        report = backtest(
            con,
            PROTOCOL.test_start,
            PROTOCOL.test_end,
            ("cdna", "mc28"),
            ("all",),
            checkpoint_path=path,
            protocol=PROTOCOL,
            progress=False,
            shift_list=(night,),
            resamples=1000,
        )
    assert parts[2].attrs["shift"]["name"] == "night"
    summed = sum(p.set_index("cell")["intensity"] for p in parts)
    # the three shifts cover the day: their shares add up to one in every cell, but for the small hours
    # at the two ends of the history (the first morning belongs to a night before it, the last night
    # reaches into the next morning)
    assert np.allclose(summed.loc[whole.index], whole["intensity"], rtol=0.03)
    assert not np.allclose(parts[0].set_index("cell")["intensity"].loc[whole.index], whole["intensity"] / 3, rtol=0.01)
    group = report["shifts"]["night"]["groups"]["all"]
    assert group["bootstrap"]["best_baseline"] == {"5%": "mc28", "10%": "mc28"}
    assert set(group["bootstrap"]["methods"]["cdna"]) == {"5%", "10%"}
    assert "cdna" in cli.summary_table(report)
