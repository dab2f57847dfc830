"""SEA classes derived from a hand-made incident set: counts, quintile thresholds, rules."""

from datetime import date

import numpy as np
import pandas as pd
import pytest
from h3.api import basic_int as h3int

from crimeviz.store import db
from crimeviz.streetview import labels, sequences
from crimeviz.streetview.labels import LabelRule, derive_labels
from tests.conftest import incident_rows
from tests.test_streetview_sequences import write_sequence

BASE = (43.65, -79.38)


def centre_of(lat: float, lon: float, res: int = 9) -> tuple[float, float]:
    return h3int.cell_to_latlng(h3int.latlng_to_cell(lat, lon, res))


def add_incidents(con, places: list[tuple[tuple[float, float], int]], when: str = "2021-05-01 12:00") -> None:
    rows = [(when, "Assault", lat, lon) for (lat, lon), n in places for _ in range(n)]
    db.insert_incidents(con, db.with_cells(incident_rows(rows), "hand"))


@pytest.fixture
def five_cells(empty_store):
    """1, 2, 3, 4 and 5 incidents at the centres of five res-9 cells about 2.2 km apart."""
    centres = [centre_of(BASE[0] + 0.02 * i, BASE[1]) for i in range(5)]
    add_incidents(empty_store, [(c, i + 1) for i, c in enumerate(centres)])
    return empty_store, centres


def test_classes_are_quintiles_over_all_cells_with_incidents(five_cells):
    con, centres = five_cells
    north_of_last = (centres[4][0] + 0.0036, centres[4][1])  # ~400 m away: no incident within 250 m
    near_last = (centres[4][0] + 0.0009, centres[4][1])  # ~100 m away
    result = derive_labels(con, pd.DataFrame(centres + [north_of_last, near_last], columns=["lat", "lon"]))
    assert result.thresholds == pytest.approx((1.8, 2.6, 3.4, 4.2))  # quantiles of 1, 2, 3, 4, 5
    assert result.reference_size == 5
    assert result.table["incidents"].tolist() == [1, 2, 3, 4, 5, 0, 5]
    assert result.table["sea_class"].tolist() == [1, 2, 3, 4, 5, 1, 5]
    assert "within 250 m" in result.describe() and "1.8 / 2.6 / 3.4 / 4.2" in result.describe()


def test_classes_over_the_labelled_points_themselves(empty_store):
    points = [(BASE[0] + 0.006 * i, BASE[1]) for i in range(5)]  # ~670 m apart
    add_incidents(empty_store, list(zip(points, [0, 1, 2, 3, 10])))
    result = derive_labels(empty_store, pd.DataFrame(points, columns=["lat", "lon"]), LabelRule(reference="points"))
    assert result.thresholds == pytest.approx((0.8, 1.6, 2.4, 4.4))
    assert result.table["sea_class"].tolist() == [1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="at least 5"):
        derive_labels(empty_store, pd.DataFrame(points[:4], columns=["lat", "lon"]), LabelRule(reference="points"))


def test_ties_at_a_threshold_go_to_the_lower_class():
    assert labels.classes_for([0, 1.8, 1.81, 4.2, 9], (1.8, 2.6, 3.4, 4.2)).tolist() == [1, 1, 2, 4, 5]


def test_kring_counts_the_cell_and_its_rings(empty_store):
    home = h3int.latlng_to_cell(*BASE, 9)
    neighbour = sorted(h3int.grid_ring(home, 1))[0]
    far = next(c for c in sorted(h3int.grid_ring(home, 2)) if h3int.grid_distance(neighbour, c) == 3)
    add_incidents(
        empty_store,
        [(h3int.cell_to_latlng(home), 2), (h3int.cell_to_latlng(neighbour), 3), (h3int.cell_to_latlng(far), 4)],
    )
    point = pd.DataFrame([h3int.cell_to_latlng(home)], columns=["lat", "lon"])
    counts = [
        derive_labels(empty_store, point, LabelRule(method="kring", k=k)).table["incidents"][0] for k in (0, 1, 2)
    ]
    assert counts == [2, 5, 9]
    by_cell = derive_labels(empty_store, point, LabelRule(method="kring", k=1))
    assert by_cell.reference_size == 3  # reference: home 5, neighbour 5, far 4
    assert by_cell.thresholds == pytest.approx(tuple(np.quantile([5, 5, 4], labels.QUANTILES)))


def test_dates_limit_the_incidents_counted(empty_store):
    add_incidents(empty_store, [(BASE, 3)], when="2020-06-01 10:00")
    add_incidents(empty_store, [(BASE, 1)], when="2021-06-01 10:00")
    point = pd.DataFrame([BASE], columns=["lat", "lon"])
    assert derive_labels(empty_store, point).table["incidents"][0] == 4
    assert derive_labels(empty_store, point, LabelRule(start=date(2021, 1, 1))).table["incidents"][0] == 1
    with pytest.raises(ValueError, match="no incidents"):
        derive_labels(empty_store, point, LabelRule(start=date(2022, 1, 1)))


def test_locations_outside_the_incidents_are_refused(five_cells):
    con, _ = five_cells
    with pytest.raises(ValueError, match="1 of 1 location.*outside the area"):
        derive_labels(con, pd.DataFrame([(37.5665, 126.978)], columns=["lat", "lon"]))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"method": "nearest"}, "method"),
        ({"reference": "city"}, "reference"),
        ({"radius_m": 0}, "radius"),
        ({"k": -1}, "k must"),
        ({"res": 10}, "resolution"),
        ({"start": date(2021, 2, 1), "end": date(2021, 1, 1)}, "before the start"),
    ],
)
def test_bad_rules_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LabelRule(**kwargs)


def test_sequences_are_labelled_by_folder_name_or_exif_and_must_have_a_place(five_cells, tmp_path):
    con, centres = five_cells
    lat, lon = centres[2]
    write_sequence(tmp_path / "walks" / f"v_class1_g{lat},{lon}_c0")
    write_sequence(tmp_path / "walks" / "phone", gps=centres[4])
    found = sequences.find_sequences(tmp_path / "walks")
    table = labels.label_sequences(con, found).table
    assert table[["sequence", "incidents", "sea_class"]].values.tolist() == [
        ["phone", 5, 5],
        [f"v_class1_g{lat},{lon}_c0", 3, 3],
    ]
    write_sequence(tmp_path / "walks" / "nowhere")
    with pytest.raises(sequences.SequenceError, match="1 sequence.*no location.*nowhere"):
        labels.label_sequences(con, sequences.find_sequences(tmp_path / "walks"))
