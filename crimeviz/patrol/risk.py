"""Risk surfaces for patrol plans: expected incidents per H3 cell during one shift.

A surface is ``cell → expected (priority-weighted) incidents in the shift``; the plan
builder needs nothing else, so any forecast can drive it. Two sources are provided:

- ``historical``: each cell's mean daily count over the 365 days before the plan date;
- ``forecast:<method>``: ``crimeviz.forecast.predict.forecast_for_date`` at resolution 8
  (any of its methods: CDNA or a baseline). For resolution 9 each res-8 cell's forecast is split
  among its res-9 children in proportion to their incidents in the same 365 days
  (add-one smoothed, over the children in the study area).

Either daily intensity is then weighted by the cell's hour-of-day profile for the
shift: the share of its incidents in the year before that fell in the shift's hours,
shrunk towards the city-wide share with ``PROFILE_PRIOR`` pseudo-incidents so a cell
with three incidents does not get a share of 0 or 1. Offences are weighted by the
commander's priorities (weight 0 leaves an offence out).
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from h3.api import basic_int as h3int

from crimeviz.store import counts, grid, queries

HISTORY_DAYS = 365
PROFILE_PRIOR = 10.0
HISTORICAL = "historical"
FORECAST_PREFIX = "forecast:"
FORECAST_RES = 8


class PlanError(ValueError):
    """Inputs a plan cannot be built from; the message is meant for the commander."""


@dataclass(frozen=True)
class Shift:
    """A shift starting at hour ``start`` (0–23) and lasting ``hours`` (1–24), maybe past midnight."""

    name: str
    start: int
    hours: int

    def __post_init__(self):
        if not (0 <= self.start <= 23 and 1 <= self.hours <= 24):
            raise PlanError(f"a shift starts at an hour 0–23 and lasts 1–24 hours, got {self.start} + {self.hours}")

    def covers(self, hour) -> np.ndarray:
        """Whether each hour of day falls in the shift."""
        return (np.asarray(hour) - self.start) % 24 < self.hours

    def window(self, day: date) -> tuple[datetime, datetime]:
        """Start and end (exclusive) of the shift that begins on ``day``."""
        begin = datetime(day.year, day.month, day.day, self.start)
        return begin, begin + timedelta(hours=self.hours)

    def label(self) -> str:
        end = (self.start + self.hours) % 24
        return f"{self.name} {self.start:02d}:00–{end:02d}:00"


SHIFTS = {"day": Shift("day", 7, 8), "evening": Shift("evening", 15, 8), "night": Shift("night", 23, 8)}


@dataclass(frozen=True, eq=False)
class RiskSurface:
    """Expected priority-weighted incidents per cell in one shift (``cells`` sorted uint64).

    ``day_total`` is the city's expected weighted incidents over the whole day, so
    coverage can be given as a share of the shift or of the day.
    """

    res: int
    cells: np.ndarray
    risk: np.ndarray
    day_total: float
    model: str
    version: str

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, res: int, model: str = "custom", version: str = "", day_total: float | None = None
    ) -> "RiskSurface":
        """A surface from a frame with ``cell`` (hex or int) and ``risk`` columns."""
        grid.cell_column(res)
        cells = np.array([grid.to_int(c) if isinstance(c, str) else int(c) for c in frame["cell"]], dtype=np.uint64)
        risk = frame["risk"].to_numpy(dtype=float)
        if any(h3int.get_resolution(c) != res for c in cells.tolist()):
            raise PlanError(f"the risk surface's cells are not at resolution {res}")
        if np.any(~np.isfinite(risk)) or np.any(risk < 0):
            raise PlanError("risk values must be finite and ≥ 0")
        order = np.argsort(cells)
        total = float(risk.sum()) if day_total is None else float(day_total)
        return cls(res, cells[order], risk[order], total, model, version)

    @property
    def total(self) -> float:
        return float(self.risk.sum())

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({"cell": grid.to_hex(self.cells), "risk": self.risk})

    def lookup(self, cells) -> np.ndarray:
        """Risk of integer ``cells`` (0 for cells outside the surface)."""
        cells = np.asarray(cells, dtype=np.uint64)
        pos = np.minimum(np.searchsorted(self.cells, cells), len(self.cells) - 1)
        return np.where(self.cells[pos] == cells, self.risk[pos], 0.0)


def _predict():
    """The forecast API (imported on first use: it brings in torch)."""
    from crimeviz.forecast import predict

    return predict


def check_weights(weights: dict[str, float], offences: list[str]) -> dict[str, float]:
    """Offence priorities as floats ≥ 0 for known offences, at least one positive."""
    unknown = sorted(set(weights) - set(offences))
    if unknown:
        raise PlanError(f"unknown offence(s) {', '.join(unknown)}; the store holds {', '.join(offences)}")
    out = {name: float(weights.get(name, 1.0)) for name in offences}
    if any(not np.isfinite(w) or w < 0 for w in out.values()):
        raise PlanError("offence weights must be numbers ≥ 0")
    if not any(w > 0 for w in out.values()):
        raise PlanError("every offence has weight 0: give at least one offence a positive weight")
    return out


class ShiftHistory:
    """Weighted incident counts per day and cell for plan dates ``first``..``last``, loaded once.

    Holds calendar days ``first − 365`` … ``last + 1`` (the night shift runs past
    midnight) in three arrays ``(days, cells)``: all incidents, incidents in the
    shift's hours (both priority-weighted, for the risk) and, per shift start day,
    the unweighted incidents of prioritised offences during that shift (for review).
    """

    def __init__(self, con, res: int, shift: Shift, weights: dict[str, float], first: date, last: date):
        self.res, self.shift, self.first = res, shift, first
        self.origin = first - timedelta(days=HISTORY_DAYS)
        self.cells = np.array(sorted(queries.study_cells(con, res)), dtype=np.uint64)
        offences = counts.offence_types(con)
        self.weights = check_weights(weights, offences)
        n_days = (last - self.origin).days + 2
        frame = counts.counts_by_day(con, res, self.origin, self.origin, last + timedelta(days=2), by_hour=True)
        d, h = frame["d"].to_numpy(int), frame["h"].to_numpy(int)
        c = np.searchsorted(self.cells, frame["cell"].to_numpy(dtype=np.uint64))
        n = frame["n"].to_numpy(float)
        w = frame["offence"].map(self.weights).to_numpy(float) * n
        in_shift = shift.covers(h)
        self.all = np.zeros((n_days, len(self.cells)))
        self.in_shift = np.zeros_like(self.all)
        self.actual = np.zeros_like(self.all)
        np.add.at(self.all, (d, c), w)
        np.add.at(self.in_shift, (d, c), w * in_shift)
        start_day = d - (h < shift.start)  # an hour before the start belongs to yesterday's shift
        keep = in_shift & (w > 0) & (start_day >= 0)
        np.add.at(self.actual, (start_day[keep], c[keep]), n[keep])
        self._cum_all = np.vstack([np.zeros(len(self.cells)), np.cumsum(self.all, axis=0)])
        self._cum_shift = np.vstack([np.zeros(len(self.cells)), np.cumsum(self.in_shift, axis=0)])

    def _row(self, day: date) -> int:
        row = (day - self.origin).days
        if not HISTORY_DAYS <= row < len(self.all) - 1:
            raise ValueError(f"{day} is outside the dates this history was loaded for")
        return row

    def window_counts(self, day: date) -> tuple[np.ndarray, np.ndarray]:
        """Weighted incidents per cell in the 365 days before ``day``: all hours, shift hours."""
        row = self._row(day)
        lo = row - HISTORY_DAYS
        return self._cum_all[row] - self._cum_all[lo], self._cum_shift[row] - self._cum_shift[lo]

    def shift_share(self, day: date) -> np.ndarray:
        """Each cell's share of incidents in the shift's hours, shrunk to the city's share."""
        n_all, n_shift = self.window_counts(day)
        city = n_shift.sum() / n_all.sum() if n_all.sum() > 0 else self.shift.hours / 24
        return (n_shift + PROFILE_PRIOR * city) / (n_all + PROFILE_PRIOR)

    def daily_rate(self, day: date) -> np.ndarray:
        """Mean weighted incidents per day in each cell over the 365 days before ``day``."""
        n_all, _ = self.window_counts(day)
        if n_all.sum() == 0:
            raise PlanError(
                f"no incidents of the prioritised offences are recorded in the {HISTORY_DAYS} days "
                f"before {day}: pick a date the data cover"
            )
        return n_all / HISTORY_DAYS

    def historical(self, day: date) -> RiskSurface:
        """Historical-counts risk for the shift starting on ``day``."""
        rate = self.daily_rate(day)
        return RiskSurface(
            self.res,
            self.cells,
            rate * self.shift_share(day),
            float(rate.sum()),
            HISTORICAL,
            f"mean of {HISTORY_DAYS} days before {day}",
        )

    def observed(self, day: date) -> np.ndarray:
        """Incidents of prioritised offences per cell during the shift starting on ``day``."""
        return self.actual[self._row(day)]

    def child_shares(self, day: date) -> np.ndarray:
        """Each cell's add-one-smoothed share of its res-8 parent's incidents in the window."""
        n_all, _ = self.window_counts(day)
        parents = (
            np.array([h3int.cell_to_parent(c, FORECAST_RES) for c in self.cells.tolist()], dtype=np.uint64)
            if self.res != FORECAST_RES
            else self.cells
        )
        _, group = np.unique(parents, return_inverse=True)
        total = np.bincount(group, weights=n_all + 1.0)
        return (n_all + 1.0) / total[group], parents


def _forecast_frame(con, day: date, group: str, method: str) -> pd.DataFrame:
    try:
        frame = _predict().forecast_for_date(con, day, group, method, res=FORECAST_RES)
    except FileNotFoundError as exc:
        raise PlanError(str(exc)) from None
    if frame is None or len(frame) == 0:
        raise PlanError(f"the {method} forecast for {day} is empty")
    return frame


def _forecast_version(frame: pd.DataFrame, method: str) -> str:
    """What identifies the forecast: method, data it saw, lead (and checkpoint when given)."""
    attrs = frame.attrs
    parts = [method] + [
        f"{label} {attrs[key]}"
        for key, label in (("checkpoint", "checkpoint"), ("data_until", "data until"), ("lead", "lead days"))
        if key in attrs
    ]
    return ", ".join(parts)


def forecast_surface(con, history: ShiftHistory, day: date, method: str) -> RiskSurface:
    """The forecast's daily intensity per cell, at ``history.res``, weighted by shift and priorities."""
    positive = {k: w for k, w in history.weights.items() if w > 0}
    uniform = len(positive) == len(history.weights) and len(set(positive.values())) == 1
    groups = {"all": next(iter(positive.values()))} if uniform else positive
    shares, parents = history.child_shares(day)
    daily = np.zeros(len(history.cells))
    version = ""
    for group, weight in groups.items():
        frame = _forecast_frame(con, day, group, method)
        version = _forecast_version(frame, method)
        parent_rate = RiskSurface.from_frame(frame.rename(columns={"intensity": "risk"}), FORECAST_RES).lookup(parents)
        daily += weight * parent_rate * shares
    if daily.sum() <= 0:
        raise PlanError(f"the {method} forecast for {day} expects no incidents anywhere")
    return RiskSurface(
        history.res,
        history.cells,
        daily * history.shift_share(day),
        float(daily.sum()),
        f"{FORECAST_PREFIX}{method}",
        version,
    )


def sources() -> list[str]:
    """Risk sources: every method of the forecast API, then historical counts."""
    return [f"{FORECAST_PREFIX}{m}" for m in _predict().METHODS] + [HISTORICAL]


def source_label(source: str) -> str:
    """Words for a risk source, for the page."""
    if source == HISTORICAL:
        return f"Historical counts (daily mean of the {HISTORY_DAYS} days before)"
    method = source[len(FORECAST_PREFIX) :]
    return f"Forecast: {_predict().METHODS.get(method, method)}"


def surface(con, history: ShiftHistory, day: date, source: str) -> RiskSurface:
    """The risk surface of ``source`` for the shift starting on ``day``."""
    if source == HISTORICAL:
        return history.historical(day)
    if source.startswith(FORECAST_PREFIX):
        history.daily_rate(day)  # a date without data gets the same message as for historical risk
        return forecast_surface(con, history, day, source[len(FORECAST_PREFIX) :])
    raise PlanError(f"unknown risk source {source!r}; choose one of {', '.join(sources())}")
