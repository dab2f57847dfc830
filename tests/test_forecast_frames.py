"""The H3 ⇄ frame mapping, daily count cubes and trailing sums."""

from datetime import date

import h3
import numpy as np
import pytest

from crimeviz.forecast import frames
from crimeviz.store import db
from tests.conftest import incident_rows

CENTRE = h3.latlng_to_cell(43.6534, -79.3841, 8)


def disk_mapping(k: int = 3) -> frames.GridMapping:
    return frames.grid_mapping([h3.str_to_int(c) for c in h3.grid_disk(CENTRE, k)], 8)


def test_cells_round_trip_through_frames():
    mapping = disk_mapping()
    values = np.arange(mapping.n_cells, dtype=float) + 1
    frame = mapping.to_frame(values, fill=np.nan)
    assert np.array_equal(mapping.from_frame(frame), values)
    assert np.isnan(frame[~mapping.mask]).all()
    assert mapping.mask.sum() == mapping.n_cells == 37


def test_every_pixel_maps_back_to_its_cell():
    mapping = disk_mapping()
    for cell, row, col in zip(mapping.cells, mapping.rows, mapping.cols):
        assert mapping.cell_at(row, col) == cell
    outside = np.argwhere(~mapping.mask)[0]
    assert mapping.cell_at(*outside) is None


def test_frame_sides_are_padded_to_a_multiple_of_8():
    mapping = frames.grid_mapping([h3.str_to_int(c) for c in h3.grid_disk(CENTRE, 6)], 8)
    assert all(side % 8 == 0 for side in mapping.shape)
    assert mapping.shape[0] >= np.ptp(mapping.rows) + 1


def test_a_3x3_window_holds_the_six_hex_neighbours():
    mapping = disk_mapping(1)
    centre = mapping.index_of([h3.str_to_int(CENTRE)])[0]
    offsets = {
        (int(r - mapping.rows[centre]), int(c - mapping.cols[centre])) for r, c in zip(mapping.rows, mapping.cols)
    } - {(0, 0)}
    assert len(offsets) == 6
    assert all(abs(dr) <= 1 and abs(dc) <= 1 for dr, dc in offsets)


def test_mapping_is_cached_and_order_independent():
    cells = [h3.str_to_int(c) for c in h3.grid_disk(CENTRE, 2)]
    assert frames.grid_mapping(cells, 8) is frames.grid_mapping(list(reversed(cells)), 8)


def test_index_of_marks_unknown_cells():
    mapping = disk_mapping(1)
    far = h3.str_to_int(h3.latlng_to_cell(43.8, -79.2, 8))
    assert mapping.index_of([far, int(mapping.cells[2])]).tolist() == [-1, 2]


def test_count_cube_counts_by_local_day_offence_and_cell(empty_store):
    rows = incident_rows(
        [
            ("2021-03-01 00:30", "Assault", 43.6534, -79.3841),
            ("2021-03-01 23:30", "Assault", 43.6534, -79.3841),
            ("2021-03-02 12:00", "Robbery", 43.6534, -79.3841),
            ("2021-03-03 12:00", "Robbery", 43.9, -79.1),  # outside the mapping: dropped
        ]
    )
    db.insert_incidents(empty_store, db.with_cells(rows, "test"))
    mapping = disk_mapping(1)
    names = frames.offences(empty_store)
    cube = frames.count_cube(empty_store, mapping, date(2021, 3, 1), date(2021, 3, 3), names)
    centre = mapping.index_of([h3.str_to_int(CENTRE)])[0]
    assert names == ["Assault", "Robbery"]
    assert cube.shape == (3, 2, 7)
    assert cube[0, 0, centre] == 2 and cube[1, 1, centre] == 1 and cube.sum() == 3
    assert frames.group_counts(cube, names, "all")[:, centre].tolist() == [2, 1, 0]
    with pytest.raises(ValueError):
        frames.group_counts(cube, names, "Arson")


def test_cumulative_counts_make_window_sums_differences():
    counts = np.array([[1.0], [2.0], [3.0], [4.0]])
    cum = frames.cumulative(counts)
    assert cum[:, 0].tolist() == [0, 1, 3, 6, 10]
    assert (cum[4] - cum[2]).tolist() == [7.0]  # days 2 and 3
