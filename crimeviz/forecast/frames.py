"""H3 cells as image frames: the invertible cell ⇄ (row, col) mapping and daily count frames.

Cells are placed with ``h3.cell_to_local_ij`` around a fixed origin cell (Toronto City
Hall's; for a city too far from it, the grid's middle cell). Local IJ
coordinates are axial, so a 3×3 convolution sees a cell's six hexagonal
neighbours plus two cells at distance 2 (offsets (+1, −1) and (−1, +1)). Pixels
that hold no city cell are masked out, never read as "no crime".
"""

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property, lru_cache

import h3
import numpy as np

from crimeviz.store import counts, grid

ORIGIN_LATLNG = (43.6534, -79.3841)  # Toronto City Hall: fixes the frame's origin cell
FRAME_MULTIPLE = 8  # three stride-2 stages in the CDNA encoder
ALL = "all"


@dataclass(frozen=True, eq=False)
class GridMapping:
    """Cells (sorted uint64) ⇄ frame pixels ``(rows[k], cols[k])`` on a ``shape`` frame.

    The frame is laid out on first use: the baselines need only the cells, so a grid
    spanning two distant cities still forecasts with them (and only CDNA refuses it).
    """

    res: int
    cells: np.ndarray

    @cached_property
    def _layout(self) -> tuple[int, np.ndarray, np.ndarray, tuple[int, int]]:
        cells = tuple(self.cells.tolist())
        origin, ij = _local_ij(cells, h3.str_to_int(h3.latlng_to_cell(*ORIGIN_LATLNG, self.res)))
        span = ij.max(0) - ij.min(0) + 1
        padded = -(-span // FRAME_MULTIPLE) * FRAME_MULTIPLE
        offset = ij.min(0) - (padded - span) // 2
        rows, cols = (ij - offset).T
        return origin, rows, cols, (int(padded[0]), int(padded[1]))

    @property
    def origin(self) -> int:
        return self._layout[0]

    @property
    def rows(self) -> np.ndarray:
        return self._layout[1]

    @property
    def cols(self) -> np.ndarray:
        return self._layout[2]

    @property
    def shape(self) -> tuple[int, int]:
        return self._layout[3]

    @property
    def n_cells(self) -> int:
        return len(self.cells)

    @property
    def mask(self) -> np.ndarray:
        """Boolean ``shape`` frame, True where a city cell sits."""
        out = np.zeros(self.shape, dtype=bool)
        out[self.rows, self.cols] = True
        return out

    @property
    def areas_km2(self) -> np.ndarray:
        return _areas(self.res, tuple(self.cells.tolist()))

    def hex(self) -> list[str]:
        return grid.to_hex(self.cells)

    def to_frame(self, values: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """``(..., n_cells)`` values -> ``(..., H, W)`` frames, ``fill`` outside the city."""
        values = np.asarray(values)
        out = np.full(values.shape[:-1] + self.shape, fill, dtype=np.result_type(values, fill))
        out[..., self.rows, self.cols] = values
        return out

    def from_frame(self, frames: np.ndarray) -> np.ndarray:
        """``(..., H, W)`` frames -> ``(..., n_cells)`` values in ``cells`` order."""
        return np.asarray(frames)[..., self.rows, self.cols]

    def cell_at(self, row: int, col: int) -> int | None:
        """The cell drawn at a pixel, or None outside the city."""
        hit = np.flatnonzero((self.rows == row) & (self.cols == col))
        return int(self.cells[hit[0]]) if len(hit) else None

    def index_of(self, cells) -> np.ndarray:
        """Positions of ``cells`` in ``self.cells``; −1 for cells outside the mapping."""
        cells = np.asarray(cells, dtype=np.uint64)
        pos = np.searchsorted(self.cells, cells)
        pos = np.minimum(pos, len(self.cells) - 1)
        return np.where(self.cells[pos] == cells, pos, -1)


def grid_mapping(cells, res: int) -> GridMapping:
    """The (cached) mapping for a set of integer cells at ``res``."""
    return _mapping(tuple(sorted(int(c) for c in set(cells))), res)


@lru_cache(maxsize=16)
def _mapping(cells: tuple[int, ...], res: int) -> GridMapping:
    grid.cell_column(res)
    if not cells:
        raise ValueError("a grid mapping needs at least one cell")
    return GridMapping(res, np.array(cells, dtype=np.uint64))


def _local_ij(cells: tuple[int, ...], origin: int) -> tuple[int, np.ndarray]:
    """Local IJ of ``cells`` around ``origin``, or around the grid's middle cell where ``origin``
    cannot reach them (a city far from Toronto); ValueError when no single frame holds the grid."""
    for centre in (origin, cells[len(cells) // 2]):
        try:
            return centre, np.array([h3.cell_to_local_ij(h3.int_to_str(centre), h3.int_to_str(c)) for c in cells])
        except h3.H3FailedError:
            continue
    raise ValueError("the cells lie too far apart for one grid frame: forecast one city at a time")


@lru_cache(maxsize=16)
def _areas(res: int, cells: tuple[int, ...]) -> np.ndarray:
    return grid.cell_area_km2(cells)


def cells_with_incidents(con, res: int, before: date | None = None) -> list[int]:
    """Cells with ≥ 1 incident (strictly before ``before`` if given): the valid area."""
    return counts.cells_with_incidents(con, res, before)


def offences(con) -> list[str]:
    """The offence types in the store, sorted: the channels of a count cube."""
    return counts.offence_types(con)


def day_range(start: date, end: date) -> list[date]:
    """Every day from ``start`` to ``end`` inclusive."""
    return [start + timedelta(days=k) for k in range((end - start).days + 1)]


def count_cube(con, mapping: GridMapping, start: date, end: date, offence_names: list[str]) -> np.ndarray:
    """Daily counts ``(days, len(offence_names), n_cells)`` (float32), ``start``..``end`` inclusive.

    Days are local calendar days of ``occurred_at``; incidents in cells outside the
    mapping are dropped.
    """
    days = (end - start).days + 1
    out = np.zeros((max(days, 0), len(offence_names), mapping.n_cells), dtype=np.float32)
    if days <= 0:
        return out
    frame = counts.counts_by_day(con, mapping.res, start, start, end + timedelta(days=1), offences=offence_names)
    channel = frame["offence"].map({name: k for k, name in enumerate(offence_names)}).to_numpy(int)
    cell = mapping.index_of(frame["cell"].to_numpy(dtype=np.uint64))
    keep = cell >= 0
    np.add.at(out, (frame["d"].to_numpy()[keep], channel[keep], cell[keep]), frame["n"].to_numpy()[keep])
    return out


def group_counts(cube: np.ndarray, offence_names: list[str], offence_group: str) -> np.ndarray:
    """Sum a ``(days, offences, cells)`` cube over one offence group: ``all`` or an offence name."""
    if offence_group == ALL:
        return cube.sum(axis=1)
    if offence_group not in offence_names:
        raise ValueError(f"unknown offence group {offence_group!r}; choose {ALL!r} or one of {offence_names}")
    return cube[:, offence_names.index(offence_group)]


def daily_frames(
    con, res: int, offence_group: str, start: date, end: date, mapping: GridMapping | None = None
) -> tuple[np.ndarray, GridMapping]:
    """Daily count frames ``(days, H, W)`` for one offence group, and the mapping used.

    Without ``mapping`` the grid holds every cell with a stored incident.
    """
    mapping = mapping or grid_mapping(cells_with_incidents(con, res), res)
    names = offences(con)
    counts = group_counts(count_cube(con, mapping, start, end, names), names, offence_group)
    return mapping.to_frame(counts), mapping


@dataclass(frozen=True, eq=False)
class History:
    """Daily counts ``(days, offences, cells)`` from ``start`` on, on one grid mapping."""

    mapping: GridMapping
    offences: list[str]
    start: date
    counts: np.ndarray

    @property
    def n_days(self) -> int:
        return len(self.counts)

    @property
    def end(self) -> date:
        """The last day held (the day before ``start`` if empty)."""
        return self.start + timedelta(days=self.n_days - 1)

    def index(self, day: date) -> int:
        """Row of ``day`` (``n_days`` for the day after the last one held)."""
        return (day - self.start).days

    def group(self, offence_group: str) -> np.ndarray:
        """``(days, cells)`` counts of one offence group."""
        return group_counts(self.counts, self.offences, offence_group)

    def since(self, row: int) -> "History":
        """The same history from row ``row`` on (a view, no copy)."""
        return History(self.mapping, self.offences, self.start + timedelta(days=row), self.counts[row:])


def first_day(con) -> date:
    """The day of the earliest stored incident."""
    first = counts.first_incident(con)
    if first is None:
        raise ValueError("the incident store is empty")
    return first.date()


def load_history(
    con, mapping: GridMapping, end: date, start: date | None = None, offence_names: list[str] | None = None
) -> History:
    """Counts from ``start`` (default: the first stored day) to ``end`` inclusive."""
    start = start or first_day(con)
    names = offence_names or offences(con)
    return History(mapping, names, start, count_cube(con, mapping, start, end, names))


def cumulative(counts: np.ndarray, dtype=np.float64) -> np.ndarray:
    """``cum[t]`` = sum of ``counts[:t]`` (one more row than ``counts``): any window sum is a difference."""
    out = np.zeros((len(counts) + 1,) + counts.shape[1:], dtype=dtype)
    np.cumsum(counts, axis=0, dtype=dtype, out=out[1:])
    return out
