"""The store's reads for models and plans, on a hand-made store."""

from datetime import date

from crimeviz.store import counts


def test_counts_by_day_per_offence_and_hour(small_store):
    frame = counts.counts_by_day(small_store, 8, date(2021, 3, 1), date(2021, 3, 1), date(2021, 3, 3), by_hour=True)
    rows = sorted(zip(frame["d"], frame["h"], frame["offence"], frame["n"]))
    assert rows == [(0, 8, "Assault", 1), (0, 23, "Assault", 1), (1, 2, "Robbery", 1)]
    robbery = counts.counts_by_day(small_store, 8, date(2021, 3, 1), date(2021, 3, 1), date(2021, 3, 8), ["Robbery"])
    assert robbery["n"].sum() == 1


def test_no_offences_asked_for_gives_no_counts(small_store):
    frame = counts.counts_by_day(small_store, 8, date(2021, 1, 1), date(2021, 1, 1), date(2022, 1, 1), offences=[])
    assert frame.empty and list(frame.columns) == ["d", "offence", "cell", "n"]


def test_incidents_near_a_point_are_within_the_radius_nearest_first(small_store):
    near = counts.incidents_near(small_store, 43.6532, -79.3832, 50)
    assert len(near) == 4 and near["distance_m"].is_monotonic_increasing and near["distance_m"].max() <= 50
