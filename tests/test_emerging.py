"""Emerging hot spots: slices, Gi* per slice against Ord & Getis' formula, Mann-Kendall against
pymannkendall, Esri's categories on hand-made series, and a small world where the answer is obvious."""

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pymannkendall
import pytest
from h3.api import basic_int as h3int

from crimeviz.explore import emerging
from crimeviz.explore.hotspots import kring_weights

CENTRE = h3int.latlng_to_cell(43.6532, -79.3832, 8)


def test_week_slices_end_on_the_last_day_and_months_are_whole():
    weeks = emerging.slices(date(2021, 1, 1), date(2021, 3, 31), "week")
    assert weeks[-1] == (date(2021, 3, 25), date(2021, 3, 31))
    assert all((b - a).days == 6 for a, b in weeks) and weeks[0][0] >= date(2021, 1, 1)
    assert all(b + timedelta(days=1) == c for (_, b), (c, _) in zip(weeks, weeks[1:]))
    assert len(weeks) == 12  # 90 days hold 12 whole weeks
    months = emerging.slices(date(2020, 1, 15), date(2020, 12, 30), "month")
    assert months[0] == (date(2020, 2, 1), date(2020, 2, 29)) and months[-1] == (date(2020, 11, 1), date(2020, 11, 30))


def test_too_few_slices_is_one_clear_error():
    with pytest.raises(ValueError, match=r"at least 10 whole months in the period \(found 5\)"):
        emerging.check_slices(emerging.slices(date(2021, 1, 1), date(2021, 5, 31), "month"), "month")
    with pytest.raises(ValueError, match="slice must be one of"):
        emerging.slices(date(2021, 1, 1), date(2021, 5, 31), "day")


def gi_star_z(x: np.ndarray, neighbours: list[set[int]]) -> np.ndarray:
    """Ord & Getis (1995) eq. 7 with binary weights, the cell itself included (written out, not esda)."""
    n = len(x)
    mean, s = x.mean(), np.sqrt((x**2).mean() - x.mean() ** 2)
    z = np.empty(n)
    for i in range(n):
        w = np.array([1.0 if j == i or j in neighbours[i] else 0.0 for j in range(n)])
        sw = w.sum()
        z[i] = (w @ x - mean * sw) / (s * np.sqrt((n * (w**2).sum() - sw**2) / (n - 1)))
    return z


def test_gi_star_per_slice_matches_ord_and_getis():
    cells = sorted(h3int.grid_disk(CENTRE, 3))
    rng = np.random.default_rng(4)
    counts = rng.poisson(2.0, size=(len(cells), 6))
    counts[:, 3] = 0  # an empty slice: no variance, no hot spots
    z, p = emerging.gi_star_slices(counts, kring_weights(cells, 1))
    index = {c: i for i, c in enumerate(cells)}
    neighbours = [{index[n] for n in h3int.grid_disk(c, 1) if n in index and n != c} for c in cells]
    for t in (0, 1, 2, 4, 5):
        assert np.allclose(z[:, t], gi_star_z(counts[:, t].astype(float), neighbours))
    assert (z[:, 3] == 0).all() and (p[:, 3] == 1).all()


def test_mann_kendall_matches_pymannkendall():
    rng = np.random.default_rng(7)
    series = [
        rng.normal(size=30),
        np.arange(20) * 0.1 + rng.normal(scale=0.5, size=20),
        np.round(rng.normal(size=25), 0),  # many ties
        np.r_[np.zeros(8), np.ones(4)],  # ties and a step
        -np.arange(12.0),
    ]
    for x in series:
        ours = emerging.mann_kendall(x[None, :])
        ref = pymannkendall.original_test(x)
        assert ours.s[0] == ref.s and np.isclose(ours.z[0], ref.z) and np.isclose(ours.p[0], ref.p)
        assert np.isclose(ours.tau[0], ref.Tau)


def test_constant_series_has_no_trend():
    trend = emerging.mann_kendall(np.ones((2, 12)))
    assert (trend.z == 0).all() and (trend.p == 1).all()


def flags(text: str) -> tuple[np.ndarray, np.ndarray]:
    """A location's bins from a string, oldest first: H hot, C cold, . neither."""
    return np.array([c == "H" for c in text]), np.array([c == "C" for c in text])


@pytest.mark.parametrize(
    "bins, trend_z, trend_p, expected",
    [
        ("..........H", 0.5, 0.6, "New hot spot"),
        ("........HHH", 3.0, 0.001, "Consecutive hot spot"),
        ("HHHHHHHHHHH", 3.0, 0.001, "Intensifying hot spot"),
        ("HHHHH.HHHHH", 0.2, 0.8, "Persistent hot spot"),
        ("HHHHHHHHHHH", -3.0, 0.001, "Diminishing hot spot"),
        ("..H..H...HH", 1.0, 0.3, "Sporadic hot spot"),
        ("CC...H...HH", 2.5, 0.01, "Oscillating hot spot"),
        ("HHHHHHHHHH.", -1.0, 0.3, "Historical hot spot"),
        ("..........C", -0.5, 0.6, "New cold spot"),
        ("........CCC", -3.0, 0.001, "Consecutive cold spot"),
        ("CCCCCCCCCCC", -3.0, 0.001, "Intensifying cold spot"),
        ("CCCCCCCCCCC", 0.1, 0.9, "Persistent cold spot"),
        ("CCCCCCCCCCC", 3.0, 0.001, "Diminishing cold spot"),
        ("C..C....C.C", -1.0, 0.3, "Sporadic cold spot"),
        ("H....C...CC", -1.0, 0.3, "Oscillating cold spot"),
        ("CCCCCCCCCC.", 1.0, 0.3, "Historical cold spot"),
        ("...H.......", 0.0, 1.0, "No pattern detected"),
        ("...........", 0.0, 1.0, "No pattern detected"),
    ],
)
def test_esri_categories(bins, trend_z, trend_p, expected):
    hot, cold = flags(bins)
    assert emerging.classify(hot, cold, trend_z, trend_p, 0.05) == expected


def test_a_run_interrupted_before_the_end_is_sporadic_not_consecutive():
    hot, cold = flags(".H......HHH")
    assert emerging.classify(hot, cold, 1.0, 0.2, 0.05) == "Sporadic hot spot"


def test_ninety_percent_is_at_least_nine_of_ten():
    hot, cold = flags("HHHH.HHHHH")
    assert emerging.classify(hot, cold, 0.0, 1.0, 0.05) == "Persistent hot spot"
    hot, cold = flags("HH.H.HHHHH")  # 8 of 10
    assert emerging.classify(hot, cold, 0.0, 1.0, 0.05) == "Sporadic hot spot"


def world(last_weeks_hot: int, weeks: int = 20) -> pd.DataFrame:
    """Counts per cell and day over a k-ring of 4 around one cell: 1 incident a week everywhere, and
    30 a week in the centre and its ring in the last ``last_weeks_hot`` weeks."""
    end = date(2021, 6, 30)
    cells = sorted(h3int.grid_disk(CENTRE, 4))
    centre = set(h3int.grid_disk(CENTRE, 1))
    rows = []
    for w in range(weeks):
        day = end - timedelta(days=7 * w + 3)
        for c in cells:
            rows.append((c, day, 30 if c in centre and w < last_weeks_hot else 1))
    return pd.DataFrame(rows, columns=["cell", "day", "n"])


def test_cells_hot_only_in_the_last_weeks_are_consecutive_hot_spots():
    frame = world(last_weeks_hot=3)
    result = emerging.analyse(frame, date(2021, 2, 10), date(2021, 6, 30), 8, "week")
    assert len(result.slices) == 20 and len(result.cells) == len(h3int.grid_disk(CENTRE, 4))
    table = result.table().set_index("cell")
    centre = h3int.int_to_str(CENTRE)
    assert table.loc[centre, "category"] == "Consecutive hot spot"
    assert table.loc[centre, "hot_bins"] == 3 and table.loc[centre, "incidents"] == 3 * 30 + 17
    far = [h3int.int_to_str(c) for c in h3int.grid_ring(CENTRE, 4)]
    assert set(table.loc[far, "category"]) <= {"No pattern detected", "Sporadic cold spot", "New cold spot"}


def test_a_cell_hot_only_in_the_final_week_is_new():
    result = emerging.analyse(world(last_weeks_hot=1), date(2021, 2, 10), date(2021, 6, 30), 8, "week")
    assert result.table().set_index("cell").loc[h3int.int_to_str(CENTRE), "category"] == "New hot spot"


def test_report_lists_every_cell_and_counts_the_categories():
    result = emerging.analyse(world(last_weeks_hot=3), date(2021, 2, 10), date(2021, 6, 30), 8, "week")
    report = emerging.report(result, date(2021, 2, 10), date(2021, 6, 30))
    assert len(report["cells"]) == len(result.cells) == sum(report["summary"].values())
    assert report["slices"][-1] == ["2021-06-24", "2021-06-30"] and report["slice"] == "week"
    assert set(report["summary"]) <= set(emerging.CATEGORIES)
