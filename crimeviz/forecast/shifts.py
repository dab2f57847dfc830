"""Patrol shifts: hours of the day a forecast covers, and daily count cubes per shift.

A shift is a half-open hour range ``[start, end)``; one whose ``end`` is not after its ``start``
runs past midnight (``night`` = 23–7 covers 23:00–06:59). Incidents belong to the *shift day* on
which their shift began: an incident at 03:00 on 2 March is in the night shift of 1 March. So a
shift day's row holds only incidents from before the next shift day's shift starts, and a
forecast of a shift day made from rows strictly before it stays causal (the protocol of
:mod:`crimeviz.forecast.protocol`).

The shifts come from ``$CRIMEVIZ_SHIFTS`` (``name=start-end`` pairs, comma-separated; default
:data:`DEFAULT_SHIFTS`). Overlapping shifts are refused; hours outside every shift are allowed
(they count in the whole-day forecast only).
"""

import os
import re
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from crimeviz.forecast.frames import GridMapping, History, first_day, offences
from crimeviz.store import counts, grid

DEFAULT_SHIFTS = "day=7-15,evening=15-23,night=23-7"
WHOLE_DAY = "whole day"


@dataclass(frozen=True)
class Shift:
    """``name`` covering hours ``start`` (inclusive) to ``end`` (exclusive), past midnight when ``end <= start``."""

    name: str
    start: int
    end: int

    @property
    def wraps(self) -> bool:
        return self.end <= self.start

    @property
    def hours(self) -> tuple[int, ...]:
        """The hours of the day (0–23) the shift covers, in the order they are worked."""
        length = (self.end - self.start) % 24 or 24
        return tuple((self.start + k) % 24 for k in range(length))

    @property
    def label(self) -> str:
        return f"{self.name} ({self.start:02d}:00–{self.end % 24:02d}:00)"

    def day_offset(self, hour: np.ndarray) -> np.ndarray:
        """0 for hours worked on the shift day's own date, −1 for those after midnight of a wrapping shift."""
        hour = np.asarray(hour)
        return np.where(self.wraps & (hour < self.end), -1, 0)

    def as_dict(self) -> dict:
        return {"name": self.name, "hours": [self.start, self.end], "label": self.label}


def parse_shifts(text: str) -> tuple[Shift, ...]:
    """``"day=7-15,evening=15-23,night=23-7"`` → shifts; ValueError naming the faulty part."""
    shifts, taken = [], {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        match = re.fullmatch(r"([A-Za-z][\w -]{0,30})=(\d{1,2})-(\d{1,2})", part)
        if not match:
            raise ValueError(f"shift {part!r} is not name=start-end (hours 0-24, e.g. night=23-7)")
        name, start, end = match.group(1).strip(), int(match.group(2)), int(match.group(3))
        if start > 23 or end > 24:
            raise ValueError(f"shift {part!r}: hours run from 0 to 24")
        if name == WHOLE_DAY or any(s.name == name for s in shifts):
            raise ValueError(f"shift name {name!r} is used twice or reserved")
        shift = Shift(name, start, end % 24 if end == 24 and start else end)
        for hour in shift.hours:
            if hour in taken:
                raise ValueError(f"shifts {taken[hour]!r} and {name!r} both cover {hour:02d}:00")
            taken[hour] = name
        shifts.append(shift)
    if not shifts:
        raise ValueError("no shift given")
    return tuple(shifts)


def configured() -> tuple[Shift, ...]:
    """The installation's shifts: ``$CRIMEVIZ_SHIFTS`` or :data:`DEFAULT_SHIFTS`."""
    return parse_shifts(os.environ.get("CRIMEVIZ_SHIFTS", DEFAULT_SHIFTS))


def by_name(name: str, shifts: tuple[Shift, ...] | None = None) -> Shift:
    shifts = configured() if shifts is None else shifts
    for shift in shifts:
        if shift.name == name:
            return shift
    raise ValueError(f"unknown shift {name!r}; choose one of {', '.join(s.name for s in shifts)}")


def shift_cube(con, mapping: GridMapping, shift: Shift, start: date, end: date, offence_names: list[str]) -> np.ndarray:
    """Counts ``(days, offences, cells)`` of ``shift`` on each shift day ``start``..``end`` inclusive.

    A wrapping shift's last day reaches into the morning after ``end``.
    """
    days = (end - start).days + 1
    out = np.zeros((max(days, 0), len(offence_names), mapping.n_cells), dtype=np.float32)
    if days <= 0:
        return out
    stop = end + timedelta(days=2 if shift.wraps else 1)
    frame = counts.counts_by_day(con, mapping.res, start, start, stop, offences=offence_names, by_hour=True)
    hour = frame["h"].to_numpy(int)
    day = frame["d"].to_numpy(int) + shift.day_offset(hour)
    channel = frame["offence"].map({name: k for k, name in enumerate(offence_names)}).to_numpy(int)
    cell = mapping.index_of(frame["cell"].to_numpy(dtype=np.uint64))
    keep = np.isin(hour, shift.hours) & (cell >= 0) & (day >= 0) & (day < days)
    np.add.at(out, (day[keep], channel[keep], cell[keep]), frame["n"].to_numpy()[keep])
    return out


def load_shift_history(
    con,
    mapping: GridMapping,
    shift: Shift,
    end: date,
    start: date | None = None,
    offence_names: list[str] | None = None,
) -> History:
    """:func:`~crimeviz.forecast.frames.load_history` for one shift: row ``k`` is shift day ``start + k``."""
    start = start or first_day(con)
    names = offence_names or offences(con)
    return History(mapping, names, start, shift_cube(con, mapping, shift, start, end, names))


def shift_share(day_counts: np.ndarray, shift_counts: np.ndarray, prior_days: float = 30.0) -> np.ndarray:
    """Each cell's share of its incidents that fall in the shift, ``(cells,)``, shrunk to the city's share.

    ``(shift_c + k·s) / (day_c + k)`` with ``s`` the share over all cells and ``k`` = ``prior_days``
    times the mean daily count per cell: cells with few incidents take the city's share (an
    empirical-Bayes beta–binomial mean). Turns a whole-day forecast (CDNA's) into a shift's.
    """
    day_total = np.asarray(day_counts, dtype=float).sum(axis=0)
    shift_total = np.asarray(shift_counts, dtype=float).sum(axis=0)
    city = shift_total.sum() / day_total.sum() if day_total.sum() else 0.0
    k = prior_days * (day_total.sum() / max(len(day_counts), 1)) / max(day_total.size, 1)
    return (shift_total + k * city) / (day_total + k) if k else np.full(day_total.shape, city)


def shift_counts(con, res: int, shift: Shift, day: date, offence_names: list[str] | None = None) -> pd.DataFrame:
    """Incidents per cell in ``shift`` of ``day`` (a night shift reaching into the next morning):
    ``cell`` (H3 hex) and ``n``, busiest first, as :func:`crimeviz.store.queries.hex_counts` returns them."""
    frame = counts.counts_by_day(
        con, res, day, day, day + timedelta(days=2 if shift.wraps else 1), offences=offence_names, by_hour=True
    )
    hour = frame["h"].to_numpy(int)
    keep = np.isin(hour, shift.hours) & (frame["d"].to_numpy(int) + shift.day_offset(hour) == 0)
    out = frame[keep].groupby("cell", as_index=False)["n"].sum().sort_values("n", ascending=False)
    return pd.DataFrame({"cell": grid.to_hex(out["cell"].to_numpy(dtype=np.uint64)), "n": out["n"].to_numpy(int)})
