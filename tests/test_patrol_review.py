"""Review of plans against what happened: hit rate and PAI, by hand and on real Toronto days."""

from datetime import date

import h3
import numpy as np
import pytest

from crimeviz.patrol import review, views
from crimeviz.patrol.plan import PlanParams, build_plan
from crimeviz.patrol.risk import PlanError
from crimeviz.store import db


@pytest.fixture(scope="module")
def toronto(toronto_db):
    con = db.connect(toronto_db, read_only=True)
    yield con
    con.close()


def test_hit_rate_and_pai_by_hand():
    cells = [h3.str_to_int(c) for c in h3.grid_disk(h3.latlng_to_cell(43.65, -79.38, 9), 1)]
    study = np.array(sorted(cells), dtype=np.uint64)
    observed = np.array([4, 0, 1, 0, 0, 0, 5], dtype=float)
    areas = np.ones(7)
    got = review.hit_metrics([h3.int_to_str(int(study[0])), h3.int_to_str(int(study[6]))], observed, study, areas)
    assert got["hits"] == 9 and got["incidents"] == 10
    assert got["hit_rate"] == pytest.approx(0.9)
    assert got["area_share"] == pytest.approx(2 / 7)
    assert got["pai"] == pytest.approx(0.9 / (2 / 7))


def test_a_past_plan_is_scored_against_the_incidents_of_its_shift(toronto):
    params = PlanParams(date(2021, 7, 9), res=8, units=4, weights=(("Auto Theft", 0.0),))
    plan = build_plan(toronto, params)
    rows = review.review_plan(toronto, plan).set_index("method")
    assert list(rows.index) == ["plan", "top-k cells"]
    start, end = params.shift.window(params.day)
    marks = ", ".join("?" for _ in plan.cell_list())
    truth = toronto.execute(
        f"SELECT count(*), count(*) FILTER (WHERE lower(hex(h3_8)) IN ({marks})) FROM incidents "
        "WHERE occurred_at >= ? AND occurred_at < ? AND offence <> 'Auto Theft'",
        [*plan.cell_list(), start, end],
    ).fetchall()[0]
    assert (rows.loc["plan", "incidents"], rows.loc["plan", "hits"]) == truth
    assert rows.loc["top-k cells", "expected"] >= rows.loc["plan", "expected"] - 1e-9
    assert rows.loc["plan", "expected"] == pytest.approx(plan.covered)
    assert 0 < rows.loc["plan", "area_share"] < 0.05


def test_a_forecast_plan_is_also_compared_with_the_historical_plan(toronto, monkeypatch):
    from crimeviz.patrol import plan as plan_mod
    from crimeviz.patrol import review as review_mod

    params = PlanParams(date(2021, 7, 9), res=8, units=3, source="forecast:fake")

    def fake_surface(con, history, day, source):  # a "forecast" that doubles the historical counts
        base = history.historical(day)
        return type(base)(base.res, base.cells, 2 * base.risk, 2 * base.day_total, source, "v1")

    monkeypatch.setattr(plan_mod, "surface", fake_surface)
    monkeypatch.setattr(review_mod, "surface", fake_surface)
    plan = plan_mod.build_plan(toronto, params)
    assert (plan.risk_model, plan.risk_version) == ("forecast:fake", "v1")
    rows = review.review_plan(toronto, plan)
    assert rows["method"].tolist() == ["plan", "top-k cells", "historical plan"]
    same = rows.set_index("method")["hits"]
    assert same["plan"] == same["historical plan"]  # doubling every cell's risk changes no choice


def test_plans_over_a_period_are_summarised_and_charted(toronto):
    template = PlanParams(date(2021, 11, 1), res=8, units=3, max_cells=4)
    daily = review.review_period(toronto, template, date(2021, 11, 1), date(2021, 11, 3))
    assert len(daily) == 6 and set(daily["method"]) == {"plan", "top-k cells"}
    summary = review.period_summary(daily).set_index("method")
    assert summary.loc["plan", "days"] == 3
    assert summary.loc["plan", "pooled_hit_rate"] == pytest.approx(
        daily.query("method == 'plan'")["hits"].sum() / daily.query("method == 'plan'")["incidents"].sum()
    )
    assert len(views.review_chart(daily).data) == 2


def test_shifts_that_are_not_over_cannot_be_reviewed(toronto):
    with pytest.raises(PlanError, match="ends after the last recorded incidents"):
        review.review_plan(toronto, build_plan(toronto, PlanParams(date(2022, 1, 1), res=8, units=2)))
    with pytest.raises(PlanError, match="at most 92 days"):
        review.review_period(toronto, PlanParams(date(2021, 1, 1)), date(2021, 1, 1), date(2021, 6, 1))
    with pytest.raises(PlanError, match="before the start"):
        review.review_period(toronto, PlanParams(date(2021, 1, 1)), date(2021, 2, 1), date(2021, 1, 1))
