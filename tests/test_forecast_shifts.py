"""Shifts (hours, shift days, count cubes) and the paired bootstrap against the best baseline."""

from datetime import date

import h3
import numpy as np
import pytest
from scipy import stats

from crimeviz.forecast import bootstrap, shifts
from crimeviz.forecast.evaluate import backtest
from crimeviz.forecast.frames import grid_mapping
from crimeviz.forecast.protocol import Protocol
from crimeviz.store import db, grid
from tests.conftest import incident_rows


def test_default_shifts_cover_the_day_once_and_night_runs_past_midnight():
    day, evening, night = shifts.parse_shifts(shifts.DEFAULT_SHIFTS)
    assert day.hours == tuple(range(7, 15)) and evening.hours == tuple(range(15, 23))
    assert night.wraps and night.hours == (23, 0, 1, 2, 3, 4, 5, 6)
    assert sorted(day.hours + evening.hours + night.hours) == list(range(24))
    assert night.day_offset(np.array([23, 0, 6, 7])).tolist() == [0, -1, -1, 0]
    assert night.label == "night (23:00–07:00)"


@pytest.mark.parametrize(
    "text, message",
    [
        ("day=7-15,late=14-22", "both cover 14:00"),
        ("day=7", "not name=start-end"),
        ("day=25-3", "hours run from 0 to 24"),
        ("a=1-2,a=3-4", "used twice"),
        ("", "no shift"),
    ],
)
def test_bad_shift_settings_are_refused_with_the_reason(text, message):
    with pytest.raises(ValueError, match=message):
        shifts.parse_shifts(text)


def test_configured_shifts_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("CRIMEVIZ_SHIFTS", "early=6-14, late=14-22")
    assert [s.name for s in shifts.configured()] == ["early", "late"]
    with pytest.raises(ValueError, match="unknown shift 'night'"):
        shifts.by_name("night")


def test_shift_cube_puts_after_midnight_incidents_on_the_night_before(empty_store):
    spot = (43.6532, -79.3832)
    rows = incident_rows(
        [
            ("2021-03-01 08:00", "Assault", *spot),  # day shift of 1 March
            ("2021-03-01 23:30", "Assault", *spot),  # night of 1 March
            ("2021-03-02 03:00", "Robbery", *spot),  # night of 1 March too
            ("2021-03-02 16:00", "Robbery", *spot),  # evening of 2 March
            ("2021-03-04 02:00", "Assault", *spot),  # night of 3 March: after the last shift day asked for
        ]
    )
    db.insert_incidents(empty_store, db.with_cells(rows, "hand"))
    mapping = grid_mapping([grid.to_int(h3.latlng_to_cell(*spot, 8))], 8)
    day, evening, night = shifts.parse_shifts(shifts.DEFAULT_SHIFTS)
    names = ["Assault", "Robbery"]
    start, end = date(2021, 3, 1), date(2021, 3, 2)
    assert shifts.shift_cube(empty_store, mapping, night, start, end, names)[:, :, 0].tolist() == [[1, 1], [0, 0]]
    assert shifts.shift_cube(empty_store, mapping, day, start, end, names)[:, :, 0].tolist() == [[1, 0], [0, 0]]
    assert shifts.shift_cube(empty_store, mapping, evening, start, end, names)[:, :, 0].tolist() == [[0, 0], [0, 1]]
    longer = shifts.shift_cube(empty_store, mapping, night, start, date(2021, 3, 3), names)
    assert longer[2, 0, 0] == 1  # the 02:00 of 4 March, read from the morning after the last day


def test_shift_share_shrinks_sparse_cells_to_the_city_share():
    day = np.array([[10.0, 0.0, 1.0]] * 10)  # 10 days; cell 2 has 10 incidents, cell 1 none
    shift = np.array([[5.0, 0.0, 1.0]] * 10)
    share = shifts.shift_share(day, shift, prior_days=0.0001)
    assert share[0] == pytest.approx(0.5, abs=1e-3) and share[2] == pytest.approx(1.0, abs=1e-3)
    city = 60 / 110
    assert share[1] == pytest.approx(city)  # no data: the city's share
    assert shifts.shift_share(day, shift, prior_days=1e6) == pytest.approx(np.full(3, city), abs=1e-3)


def test_paired_interval_matches_scipy_percentile_bootstrap():
    rng = np.random.default_rng(3)
    base = rng.gamma(4.0, 1.5, 365)
    method = base + rng.normal(0.05, 0.8, 365)
    draws = bootstrap.resample_days(365, 4000, seed=1)
    ours = bootstrap.paired_difference(method, base, draws)
    theirs = stats.bootstrap(
        (method - base,), np.mean, n_resamples=4000, method="percentile", random_state=np.random.default_rng(2)
    ).confidence_interval
    assert ours["diff"] == pytest.approx((method - base).mean())
    assert ours["low"] == pytest.approx(theirs.low, abs=0.02)
    assert ours["high"] == pytest.approx(theirs.high, abs=0.02)


def test_compare_picks_the_best_baseline_and_a_uniform_gain_has_a_tight_interval():
    rng = np.random.default_rng(0)
    strong = rng.gamma(4.0, 1.5, 100)
    strong[::10] = np.nan  # days without incidents are left out of every method alike
    per_day = {
        "mc7": {"5%": strong - 1.0},
        "mc365": {"5%": strong},
        "cdna": {"5%": strong + 0.5},
        "cdna_noisy": {"5%": strong + rng.normal(0, 3, 100)},
    }
    result = bootstrap.compare(per_day, resamples=1000)
    assert result["days"] == 90 and result["best_baseline"] == {"5%": "mc365"}
    gain = result["methods"]["cdna"]["5%"]
    assert (gain["diff"], gain["low"], gain["high"], gain["share_better"]) == pytest.approx((0.5, 0.5, 0.5, 1.0))
    assert result["methods"]["mc365"]["5%"]["diff"] == 0
    assert result["methods"]["mc7"]["5%"]["high"] == pytest.approx(-1.0)
    noisy = result["methods"]["cdna_noisy"]["5%"]
    assert noisy["low"] < 0 < noisy["high"]
    assert bootstrap.verdict(result, "cdna").startswith("cdna is really better than the best baseline")
    assert "not shown to be better" in bootstrap.verdict(result, "cdna_noisy")
    assert bootstrap.verdict(result, "mc7").startswith("mc7 is worse")
    mixed = {"resamples": 1000, "level": 0.95, "days": 90, "best_baseline": {"5%": "mc365", "10%": "mc365"}}
    mixed["methods"] = {
        "cdna": {
            "5%": {"diff": -0.4, "low": -0.8, "high": -0.1, "share_better": 0.0},
            "10%": {"diff": 0.1, "low": -0.1, "high": 0.3, "share_better": 0.8},
        }
    }
    sentence = bootstrap.verdict(mixed, "cdna", {"cdna": "CDNA", "mc365": "Moving count, 365 days"})
    assert sentence.startswith(
        "CDNA is not shown to be better than the best baseline (worse at 5%; at 10% the interval includes zero): "
        "at 5% vs Moving count, 365 days: -0.40 PAI"
    )


def test_backtest_reports_shifts_and_bootstrap_for_every_group(tmp_path):
    rng = np.random.default_rng(5)
    spots = [(43.6532, -79.3832), (43.6700, -79.3900), (43.7000, -79.4000)]
    rows = []
    for k in range(120):
        day = np.datetime64("2021-01-01") + k
        for s, (lat, lon) in enumerate(spots):
            for _ in range(rng.poisson(2.0 / (s + 1))):
                when = f"{day} {int(rng.integers(24)):02d}:00"
                rows.append((when, str(rng.choice(["Assault", "Robbery"])), lat, lon))
    con = db.connect(tmp_path / "s.duckdb")
    db.insert_incidents(con, db.with_cells(incident_rows(rows), "synthetic"))
    protocol = Protocol(date(2021, 2, 28), date(2021, 3, 1), date(2021, 3, 31), date(2021, 4, 1), date(2021, 4, 30))
    report = backtest(
        con,
        date(2021, 4, 1),
        date(2021, 4, 30),
        ("mc7", "mc28", "persistence"),
        ("all", "Robbery"),
        protocol=protocol,
        progress=False,
        shift_list=shifts.parse_shifts(shifts.DEFAULT_SHIFTS),
        resamples=1000,
    )
    assert set(report["shifts"]) == {"day", "evening", "night"}
    whole = report["groups"]["all"]["incidents"]
    assert 0.9 * whole < sum(report["shifts"][s]["groups"]["all"]["incidents"] for s in report["shifts"]) <= whole
    for block in [report["groups"], *(s["groups"] for s in report["shifts"].values())]:
        for group in ("all", "Robbery"):
            result = block[group]["bootstrap"]
            assert result["resamples"] == 1000 and set(result["best_baseline"]) == {"5%", "10%"}
            best = result["best_baseline"]["5%"]
            assert best == max(block[group]["methods"], key=lambda m: block[group]["methods"][m]["pai"]["5%"]["mean"])
            assert result["methods"][best]["5%"]["diff"] == 0
    con.close()


def test_forecast_page_says_in_words_whether_the_learned_model_is_better(app_db):
    from tests.test_pages import page

    at = page("forecast", "analyst")
    at.session_state["fc_day"] = date(2021, 6, 1)
    at.session_state["fc_method"] = "mc365"
    at.run()
    assert not at.exception
    sentences = [m.value for m in at.markdown if m.value.startswith("CDNA (trained checkpoint) is")]
    assert len(sentences) == 1 and "interval" in sentences[0] and "2000 resamples" in sentences[0]
    table = next(d.value for d in at.dataframe if "ΔPAI 5%" in d.value.columns)
    assert set(table["method"]) >= {"CDNA (trained checkpoint)", "Moving count, 365 days"}
    assert (table.loc[table["vs best at 5%"] == table["method"], "ΔPAI 5%"] == 0).all()
    at.selectbox(key="fc_shift").set_value("night").run()
    assert not at.exception
    assert any("night (23:00–07:00) shifts" in s.value for s in at.subheader)
    assert any(m.value.startswith("CDNA (trained checkpoint) is") for m in at.markdown)


def test_bootstrap_table_and_verdicts_read_the_backtest_json():
    from crimeviz.forecast import views

    result = views.backtest()
    assert set(result["shifts"]) == {"day", "evening", "night"}
    for block in (result, *result["shifts"].values()):
        table = views.bootstrap_table(block, "all")
        assert len(table) == len(block["groups"]["all"]["methods"])
        verdicts = views.bootstrap_verdicts(block, "all")  # one per learned method, CDNA first
        assert verdicts[0].startswith("CDNA (trained checkpoint) is")
        assert all(" better than the best baseline" in s for s in verdicts)
    assert views.shift_result(result, "late") is None and views.shift_result(result, None) is result


def test_evaluate_command_checks_shifts_and_resamples(tmp_path, capsys):
    from crimeviz.cli import forecast as cli

    assert [s.name for s in cli._shifts("each")] == ["day", "evening", "night"]
    assert [s.name for s in cli._shifts("night, day")] == ["night", "day"] and cli._shifts("none") == ()
    with pytest.raises(ValueError, match="unknown shift 'late'"):
        cli._shifts("late")
    store = tmp_path / "s.duckdb"
    db.connect(store).close()
    assert cli.main(["evaluate", "--db", str(store), "--methods", "mc7", "--resamples", "500"]) == 2
    assert "at least 1000" in capsys.readouterr().err
    assert cli.main(["evaluate", "--db", str(store), "--methods", "mc7", "--shifts", "late"]) == 2
    assert "unknown shift 'late'" in capsys.readouterr().err
