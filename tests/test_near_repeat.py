"""Near-repeat Knox test: tiny worlds counted by hand, PySAL pointpats and brute force as yardsticks."""

import numpy as np
import pytest
from pointpats.spacetime import Knox

from crimeviz.bench.analyze import brute_force_tables
from crimeviz.explore import near_repeat
from crimeviz.explore.near_repeat import knox_test
from crimeviz.store.grid import EARTH_RADIUS_M

LAT0, LON0 = 43.65, -79.38


def north(metres) -> np.ndarray:
    """Latitudes ``metres`` due north of LAT0 (great-circle distance along a meridian is R·Δφ)."""
    return LAT0 + np.degrees(np.asarray(metres, dtype=float) / EARTH_RADIUS_M)


@pytest.fixture
def five():
    """A at 0 m day 0, B 50 m day 3, C 160 m day 10, D at A's place day 7, E 1 km away day 1.

    With bands 0,100,200 m × 0,7,14 days the pairs fall as follows:
    [0,100)×[0,7): A-B (50 m, 3 d), B-D (50 m, 4 d)    [0,100)×[7,14): A-D (0 m, 7 d)
    [100,200)×[0,7): C-D (160 m, 3 d)                  [100,200)×[7,14): A-C (160 m, 10 d), B-C (110 m, 7 d)
    E is farther than 200 m from everyone.
    """
    metres = [0, 50, 160, 0, 1000]
    return north(metres), np.full(5, LON0), np.array([0, 3, 10, 7, 1]), np.array([11, 12, 13, 14, 15])


def test_pairs_are_counted_per_distance_and_time_band(five):
    result = knox_test(*five, (0, 100, 200), (0, 7, 14), permutations=19, seed=1)
    assert result.observed.tolist() == [[2, 1], [1, 2]]
    assert result.incidents == 5


def test_near_repeat_chains_link_pairs_in_the_first_bands(five):
    result = knox_test(*five, (0, 100, 200), (0, 7, 14), permutations=19, seed=1)
    assert result.chains == [[11, 12, 14]]  # A-B and B-D; A-D is 7 days apart: outside [0, 7)


def test_distance_bands_are_half_open():
    lat, lon = north([0, 0]), np.full(2, LON0)
    lat[1] = north(123.0)
    d = near_repeat.haversine_m(lat[0], lon[0], lat[1], lon[1])
    assert d == pytest.approx(123.0, abs=1e-6)
    on_edge = knox_test(lat, lon, [0, 0], [1, 2], (0, d, 2 * d), (0, 1), permutations=9, seed=0)
    assert on_edge.observed.tolist() == [[0], [1]]  # exactly d metres: in [d, 2d), not [0, d)
    assert knox_test(lat, lon, [0, 0], [1, 2], (0, d), (0, 1), 9, 0).observed.tolist() == [[0]]


def test_time_bands_are_half_open_whole_days():
    lat, lon = north([0, 10]), np.full(2, LON0)
    assert knox_test(lat, lon, [0, 7], [1, 2], (0, 100), (0, 7, 14), 9, 0).observed.tolist() == [[0, 1]]
    assert knox_test(lat, lon, [5, 5], [1, 2], (0, 100), (0, 1, 2), 9, 0).observed.tolist() == [[1, 0]]


def test_expected_p_and_ratio_follow_the_calculator(five):
    """Two incidents: every permutation keeps their one gap, so expected = observed, p = 1, ratio = 1."""
    lat, lon = north([0, 10]), np.full(2, LON0)
    two = knox_test(lat, lon, [0, 3], [1, 2], (0, 100), (0, 7), permutations=9, seed=0)
    assert two.expected.tolist() == [[1.0]] and two.p.tolist() == [[1.0]] and two.ratio.tolist() == [[1.0]]
    result = knox_test(*five, (0, 100, 200), (0, 7, 14), permutations=99, seed=3)
    assert ((result.p >= 1 / 100) & (result.p <= 1)).all()
    assert np.allclose(result.p * 100, np.round(result.p * 100))  # (1 + count) / (1 + permutations)
    assert result.expected.sum() <= 6  # six pairs lie within 200 m, whatever their days


def test_ratio_is_missing_where_nothing_is_expected():
    lat, lon = north([0, 10]), np.full(2, LON0)
    result = knox_test(lat, lon, [0, 3], [1, 2], (0, 100), (0, 7, 14), permutations=9, seed=0)
    assert result.expected.tolist() == [[1.0, 0.0]]
    assert result.cells()[1] == {
        "distance": [0, 100],
        "days": [7, 14],
        "observed": 0,
        "expected": 0.0,
        "ratio": None,
        "p": 1.0,
    }


def test_seeded_permutations_are_reproducible(five):
    a = knox_test(*five, (0, 100, 200), (0, 7, 14), permutations=49, seed=7)
    b = knox_test(*five, (0, 100, 200), (0, 7, 14), permutations=49, seed=7)
    assert np.array_equal(a.expected, b.expected) and np.array_equal(a.p, b.p)


def test_cells_use_the_documented_json_shape(five):
    cell = knox_test(*five, (0, 100, 200), (0, 7, 14), permutations=19, seed=1).cells()[0]
    assert list(cell) == ["distance", "days", "observed", "expected", "ratio", "p"]
    assert cell["distance"] == [0, 100] and cell["days"] == [0, 7] and cell["observed"] == 2


def test_near_repeat_shading_needs_ratio_and_significance():
    assert near_repeat.is_near_repeat([1.2, 1.19, 2.0, np.nan], [0.05, 0.01, 0.06, 0.01]).tolist() == [
        True,
        False,
        False,
        False,
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0,200,100", "distance band edges must increase strictly (got 0,200,100)"),
        ("-50,100", "distance band edges must be finite and not negative (got -50,100)"),
        ("100", "distance bands need at least two edges, e.g. 0,100 (got 1)"),
        ("0,1OO", "distance bands must be numbers separated by commas, e.g. 0,100,200 (got '0,1OO')"),
    ],
)
def test_unusable_bands_are_refused_in_one_line(text, message):
    with pytest.raises(ValueError) as err:
        near_repeat.parse_bands(text, "distance")
    assert str(err.value) == message


def test_time_bands_must_be_whole_days():
    with pytest.raises(ValueError, match=r"^time band edges are whole days \(got 0,0.5\)$"):
        near_repeat.parse_bands("0,0.5", "time")


def test_fewer_than_two_incidents_and_bad_permutations_are_refused(five):
    with pytest.raises(ValueError, match="^near-repeat analysis needs at least 2 incidents; found 1$"):
        knox_test([LAT0], [LON0], [0], [1], (0, 100), (0, 7))
    with pytest.raises(ValueError, match=r"^permutations must lie between 1 and 9999 \(got 0\)$"):
        knox_test(*five, (0, 100), (0, 7), permutations=0)


def _clustered_world(rng, n=240, repeats=40):
    """Incidents over about 8 × 8 km and one year; ``repeats`` of them copy an earlier incident's
    place (within 30 m) a few days later: near repeats by construction."""
    lat = LAT0 + rng.uniform(0, 0.072, n)
    lon = LON0 + rng.uniform(0, 0.1, n)
    days = rng.integers(0, 365, n)
    src = rng.choice(n - repeats, repeats, replace=False)
    tgt = np.arange(n - repeats, n)
    lat[tgt] = lat[src] + rng.normal(0, 0.0001, repeats)
    lon[tgt] = lon[src] + rng.normal(0, 0.0001, repeats)
    days[tgt] = np.minimum(days[src] + rng.integers(0, 5, repeats), 364)
    return lat, lon, days


def _unit_sphere(lat, lon) -> np.ndarray:
    """3-D points on a sphere of the earth's radius: the chord is monotonic in great-circle distance."""
    phi, lam = np.radians(lat), np.radians(lon)
    return EARTH_RADIUS_M * np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])


def _pointpats_knox(lat, lon, days, metres, whole_days, permutations, seed):
    """pointpats' Knox with closed thresholds matched to our half-open [0, metres) × [0, whole_days)."""
    chord = 2 * EARTH_RADIUS_M * np.sin(metres / (2 * EARTH_RADIUS_M))
    np.random.seed(seed)  # pointpats permutes with numpy's global generator
    return Knox(_unit_sphere(lat, lon), days.reshape(-1, 1).astype(float), chord, whole_days - 0.5, permutations)


@pytest.mark.parametrize("clustered", [True, False])
def test_first_cell_matches_pointpats_knox(clustered):
    rng = np.random.default_rng(5)
    lat, lon, days = _clustered_world(rng)
    if not clustered:
        days = rng.permutation(days)  # the same places and days, their pairing broken
    ours = knox_test(lat, lon, days, np.arange(len(lat)), (0, 400, 800), (0, 14, 28), permutations=999, seed=11)
    theirs = _pointpats_knox(lat, lon, days, 400.0, 14, permutations=999, seed=11)
    assert ours.observed[0, 0] == theirs.nst
    # Under permuted times E[NST] = NS·NT / pairs (pointpats' expected table), our mean estimates it.
    assert ours.expected[0, 0] == pytest.approx(theirs.expected[0, 0], rel=0.1)
    assert abs(ours.p[0, 0] - theirs.p_sim) < 0.06
    if clustered:
        assert ours.p[0, 0] <= 0.01 and theirs.p_sim <= 0.01 and ours.ratio[0, 0] > 2
    else:
        assert ours.p[0, 0] > 0.05 and theirs.p_sim > 0.05


def test_other_cells_match_pointpats_by_differences_of_thresholds():
    """Cell [a, b) × [s, t) = N(<b, <t) − N(<a, <t) − N(<b, <s) + N(<a, <s), each from pointpats."""
    lat, lon, days = _clustered_world(np.random.default_rng(9))
    ours = knox_test(lat, lon, days, np.arange(len(lat)), (0, 300, 900), (0, 10, 40), permutations=9, seed=0)

    def n(metres, whole_days):
        if metres == 0 or whole_days == 0:
            return 0
        return _pointpats_knox(lat, lon, days, float(metres), whole_days, permutations=0, seed=0).nst

    for d, (a, b) in enumerate([(0, 300), (300, 900)]):
        for t, (s, e) in enumerate([(0, 10), (10, 40)]):
            assert ours.observed[d, t] == n(b, e) - n(a, e) - n(b, s) + n(a, s)


def test_kd_tree_pairs_match_brute_force_over_all_pairs():
    lat, lon, days = _clustered_world(np.random.default_rng(2), n=400, repeats=60)
    ours = knox_test(lat, lon, days, np.arange(400), (0, 50, 250, 700), (0, 3, 10, 30), permutations=5, seed=4)
    tables = brute_force_tables(
        lat, lon, [days, *near_repeat.shuffled_days(days, 5, 4)], (0, 50, 250, 700), (0, 3, 10, 30)
    )
    assert np.array_equal(tables[0], ours.observed)
    assert np.allclose(tables[1:].mean(axis=0), ours.expected)


def test_bands_wider_than_the_data_allow_are_refused(monkeypatch):
    monkeypatch.setattr(near_repeat, "MAX_PAIRS", 5)
    lat, lon = north(np.arange(5) * 10.0), np.full(5, LON0)
    with pytest.raises(ValueError, match=r"^10 pairs of incidents lie within 100 m, more than 5 can be permuted"):
        knox_test(lat, lon, np.arange(5), np.arange(5), (0, 100), (0, 7))


def test_chains_are_drawn_in_date_order_with_plain_text_tooltips(five):
    import pandas as pd

    lat, lon, days, ids = five
    result = knox_test(lat, lon, days, ids, (0, 100, 200), (0, 7, 14), permutations=9, seed=0)
    incidents = pd.DataFrame({"id": ids, "lat": lat, "lon": lon, "occurred_on": pd.to_datetime(days, unit="D").date})
    frame = near_repeat.chain_incidents(result, incidents)
    assert frame["id"].tolist() == [11, 12, 14]  # days 0, 3, 7
    assert frame["tooltip"][0] == "Chain 1 (3 incidents)\nIncident 11\nDate: 1970-01-01"
    links = near_repeat.chain_links(frame)
    assert [(link["s"][1], link["t"][1]) for link in links] == [(lat[0], lat[1]), (lat[1], lat[3])]
