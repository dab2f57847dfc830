"""H3 cells for incidents: integer cells in the database, hex strings for the browser."""

import h3
import numpy as np
from h3.api import basic_int as h3int

from crimeviz.config import RESOLUTIONS

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG), for every distance in metres


def cell_column(res: int) -> str:
    """Name of the incidents column holding cells at ``res`` (only 7, 8, 9 exist)."""
    if res not in RESOLUTIONS:
        raise ValueError(f"H3 resolution must be one of {RESOLUTIONS}, got {res!r}")
    return f"h3_{res}"


def cells_for_points(lat: np.ndarray, lon: np.ndarray) -> dict[int, np.ndarray]:
    """Cells (uint64) at every stored resolution for arrays of WGS84 points."""
    finest = max(RESOLUTIONS)
    fine = [h3int.latlng_to_cell(a, b, finest) for a, b in zip(lat.tolist(), lon.tolist())]
    out = {finest: np.array(fine, dtype=np.uint64)}
    for res in RESOLUTIONS:
        if res != finest:
            out[res] = np.array([h3int.cell_to_parent(c, res) for c in fine], dtype=np.uint64)
    return out


def to_hex(cells) -> list[str]:
    """Integer cells to H3 hex strings (JSON-safe: integers above 2**53 lose precision)."""
    return [h3.int_to_str(int(c)) for c in cells]


def to_int(cell: str) -> int:
    """An H3 hex string to its integer form; ValueError for anything that is not a cell."""
    if not isinstance(cell, str) or not h3.is_valid_cell(cell):
        raise ValueError(f"not an H3 cell: {cell!r}")
    return h3.str_to_int(cell)


def cell_area_km2(cells) -> np.ndarray:
    """True area of each cell in km² (H3 cells of one resolution differ by up to ~2x)."""
    return np.array([h3int.cell_area(int(c), "km^2") for c in cells])
