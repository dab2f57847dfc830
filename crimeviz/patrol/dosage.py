"""Patrol dosage: how long units were present where, compared with crime and with the approved plans.

From AVL/GPS pings (``crimeviz.store.avl``) of each unit, in time order:

1. **Bad fixes** (:func:`drop_bad_fixes`): a fix implying a speed above ``max_speed_kmh`` (default
   150 km/h, faster than a patrol car moves in a city) from the unit's last accepted fix is dropped
   as a GPS error; the next fix is judged against the last accepted one.
2. **Presence** (:func:`intervals`): the time between two consecutive accepted fixes of a unit is
   credited to the cell of the earlier fix (the unit is where it was last seen) when it is at most
   ``max_gap_min`` (default 5 minutes); a longer gap (radio outage, vehicle off, out of service) counts
   as not present anywhere. Each interval belongs to the shift (``crimeviz.patrol.risk.SHIFTS``) its
   start falls in, dated by the day the shift began.
3. **Visits** (:func:`visits`): a run of intervals of one unit in one cell with no gap between them;
   its dwell time is their sum. Koper (1995, "Just enough police presence: reducing crime and
   disorderly behavior by optimizing patrol time in crime hot spots", Justice Quarterly 12(4),
   649–672, Results) found the time until disorder returned after police left a hot spot grew with
   the length of the stop up to about 10–15 minutes, with diminishing returns beyond: the
   :func:`koper_table` bins dwell times around that band and, per bin, gives the share of visits
   followed by an incident in the cell within ``FOLLOW_HOURS`` (2 h) of leaving (:func:`incident_after`;
   visits whose next two hours the store does not cover yet are left out of that share).
4. **Dosage vs crime** (:func:`dosage_vs_crime`): minutes and incidents per cell; a cell is *high
   crime, little presence* when its incidents are in the top fifth of cells with incidents (and above
   their bottom fifth, so that equal counts are never "high") and its minutes in the bottom fifth of
   cells with presence (or none), and *heavy presence, little crime* the other way round.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from h3.api import basic_int as h3int

from crimeviz.geo import join
from crimeviz.patrol import store as plan_store
from crimeviz.patrol.plan import Plan
from crimeviz.patrol.risk import SHIFTS
from crimeviz.store import areas, avl, counts, queries
from crimeviz.store.filters import IncidentFilter
from crimeviz.store.grid import EARTH_RADIUS_M

MAX_GAP_MIN = 5.0
MAX_SPEED_KMH = 150.0
KOPER_BINS = (0, 1, 5, 10, 15, 20, 30, np.inf)
KOPER_BAND = (10, 15)  # minutes
FOLLOW_HOURS = 2.0  # how long after a visit an incident in the cell counts as "soon after"
HIGH, LOW = 0.8, 0.2  # quantiles for "high"/"heavy" and "little"
CRIME_GAP = "high crime, little presence"
PRESENCE_GAP = "heavy presence, little crime"
BALANCED = "other"
SYNTHETIC_PREFIX = "synthetic:"


def distance_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle (haversine) distance in km between arrays of points."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M / 1000 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def drop_bad_fixes(pings: pd.DataFrame, max_speed_kmh: float = MAX_SPEED_KMH) -> tuple[pd.DataFrame, int]:
    """``pings`` (``unit``, ``seen_at``, ``lat``, ``lon``, …) without the fixes implying more than
    ``max_speed_kmh`` from the unit's last accepted fix, sorted by unit and time; and how many were dropped.

    Speeds between consecutive fixes are computed at once; only after a fix too far from its predecessor
    are the next ones compared with the last accepted fix, one by one, until one is plausible again."""
    frame = pings.sort_values(["unit", "seen_at"], kind="stable").reset_index(drop=True)
    n = len(frame)
    keep = np.ones(n, dtype=bool)
    if n < 2:
        return frame, 0
    lat, lon = frame["lat"].to_numpy(float), frame["lon"].to_numpy(float)
    seconds = frame["seen_at"].to_numpy("datetime64[ms]").astype(np.int64) / 1000.0
    units = frame["unit"].to_numpy()

    def too_fast(a, b) -> np.ndarray:
        hours = np.maximum(seconds[b] - seconds[a], 1.0) / 3600  # fixes a second apart at least
        return distance_km(lat[a], lon[a], lat[b], lon[b]) / hours > max_speed_kmh

    index = np.arange(1, n)
    fast = np.flatnonzero((units[1:] == units[:-1]) & too_fast(index - 1, index)) + 1
    k = 0
    while k < len(fast):
        last, j = fast[k] - 1, fast[k]  # the fix before a raw jump is accepted (see the loop's end)
        while j < n and units[j] == units[last] and too_fast(last, j):
            keep[j] = False
            j += 1
        # fix j (if any) is accepted or starts another unit; fixes up to the next raw jump follow accepted ones
        k = int(np.searchsorted(fast, j, side="right"))
    return frame[keep].reset_index(drop=True), int((~keep).sum())


def shift_of(times: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The shift name each local time falls in and the day that shift began."""
    hours = times.dt.hour.to_numpy()
    names = np.empty(len(times), dtype=object)
    days = pd.Series(pd.NaT, index=times.index, dtype="datetime64[us]")
    for shift in SHIFTS.values():
        inside = shift.covers(hours)
        names[inside] = shift.name
        days[inside] = (times[inside] - pd.Timedelta(hours=shift.start)).dt.floor("D")
    return pd.Series(names, index=times.index), days.dt.date


def intervals(pings: pd.DataFrame, res: int = 9, max_gap_min: float = MAX_GAP_MIN) -> pd.DataFrame:
    """Time present between consecutive accepted fixes of each unit: ``unit``, ``start``, ``minutes``,
    ``cell`` (of the earlier fix, at ``res``), ``lat``, ``lon``, ``shift``, ``shift_day``; gaps over
    ``max_gap_min`` are left out. ``pings`` sorted by unit and time with ``cell`` at resolution 9."""
    columns = ["unit", "start", "minutes", "cell", "lat", "lon", "shift", "shift_day"]
    if len(pings) < 2:
        return pd.DataFrame(columns=columns)
    same_unit = pings["unit"].to_numpy()[1:] == pings["unit"].to_numpy()[:-1]
    minutes = np.diff(pings["seen_at"].to_numpy("datetime64[ms]").astype(np.int64)) / 60_000.0
    present = same_unit & (minutes <= max_gap_min)
    head = pings.iloc[:-1][present]
    cells = head["cell"].to_numpy(np.int64)
    if res != 9:
        cells = np.array([h3int.cell_to_parent(int(c), res) for c in cells], dtype=np.int64)
    out = pd.DataFrame(
        {
            "unit": head["unit"].to_numpy(),
            "start": head["seen_at"].to_numpy(),
            "minutes": minutes[present],
            "cell": cells,
            "lat": head["lat"].to_numpy(),
            "lon": head["lon"].to_numpy(),
        }
    )
    out["shift"], out["shift_day"] = shift_of(out["start"])
    return out


def visits(spans: pd.DataFrame) -> pd.DataFrame:
    """Runs of ``intervals`` of one unit in one cell with no gap between them: ``unit``, ``cell``,
    ``start``, ``end``, ``minutes`` (the dwell time)."""
    if spans.empty:
        return pd.DataFrame(columns=["unit", "cell", "start", "end", "minutes"])
    end = spans["start"] + pd.to_timedelta(spans["minutes"], unit="min")
    new = (
        (spans["unit"] != spans["unit"].shift())
        | (spans["cell"] != spans["cell"].shift())
        | (spans["start"] != end.shift())  # a gap ended the previous run
    )
    run = new.cumsum()
    grouped = spans.assign(end=end, run=run).groupby("run", sort=True)
    return pd.DataFrame(
        {
            "unit": grouped["unit"].first(),
            "cell": grouped["cell"].first(),
            "start": grouped["start"].first(),
            "end": grouped["end"].last(),
            "minutes": grouped["minutes"].sum(),
        }
    ).reset_index(drop=True)


def incident_after(stays: pd.DataFrame, incidents: pd.DataFrame, until: datetime, hours: float = FOLLOW_HOURS):
    """Per visit: whether an incident occurred in its cell within ``hours`` after the unit left (True/False),
    or None when the incidents known (up to ``until``) do not reach that far. ``incidents``: ``occurred_at``
    and ``cell`` (integer, the visits' resolution). Koper (1995) measured the time until disorder returned
    after police left; with recorded crime the question becomes whether an incident followed soon."""
    times = {cell: np.sort(part.to_numpy("datetime64[us]")) for cell, part in incidents.groupby("cell")["occurred_at"]}
    horizon = np.timedelta64(int(hours * 3600), "s")
    out = []
    for cell, left in zip(stays["cell"], stays["end"].to_numpy("datetime64[us]")):
        if left + horizon > np.datetime64(until, "us"):
            out.append(None)
            continue
        seen = times.get(cell)
        i = np.searchsorted(seen, left, side="left") if seen is not None else 0
        out.append(bool(seen is not None and i < len(seen) and seen[i] <= left + horizon))
    return pd.Series(out, index=stays.index, dtype=object)


def koper_table(stays: pd.DataFrame, after: pd.Series | None = None) -> pd.DataFrame:
    """Visits per dwell-time bin (``KOPER_BINS`` minutes): ``dwell``, ``visits``, ``share``, ``koper_band``;
    with ``after`` (:func:`incident_after`), ``followed`` (visits whose next hours are known) and
    ``incident_after_share`` (the share of those with an incident in the cell within ``FOLLOW_HOURS``)."""
    labels = [f"{lo:g}–{hi:g} min" if np.isfinite(hi) else f"{lo:g}+ min" for lo, hi in zip(KOPER_BINS, KOPER_BINS[1:])]
    binned = pd.cut(stays["minutes"].astype(float), KOPER_BINS, right=False, labels=labels)
    n = binned.value_counts().reindex(labels, fill_value=0)
    total = max(int(n.sum()), 1)
    band = [lo == KOPER_BAND[0] and hi == KOPER_BAND[1] for lo, hi in zip(KOPER_BINS, KOPER_BINS[1:])]
    table = pd.DataFrame({"dwell": labels, "visits": n.to_numpy(), "share": n.to_numpy() / total, "koper_band": band})
    if after is not None:
        known = after.notna()
        followed = binned[known].value_counts().reindex(labels, fill_value=0)
        hits = binned[known & (after == True)].value_counts().reindex(labels, fill_value=0)  # noqa: E712
        table["followed"] = followed.to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            table["incident_after_share"] = np.where(followed > 0, hits.to_numpy() / followed.to_numpy(), np.nan)
    return table


def classify(incidents: np.ndarray, minutes: np.ndarray) -> np.ndarray:
    """``CRIME_GAP``, ``PRESENCE_GAP`` or ``BALANCED`` per cell (see the module's step 4)."""
    incidents, minutes = np.asarray(incidents, float), np.asarray(minutes, float)
    crimes, present = incidents[incidents > 0], minutes[minutes > 0]
    crime_low = np.quantile(crimes, LOW) if len(crimes) else 0.0
    presence_low = np.quantile(present, LOW) if len(present) else 0.0
    # "High" must also be above "little": when every crime cell has one incident, none is high.
    high_crime = (incidents >= np.quantile(crimes, HIGH)) & (incidents > crime_low) if len(crimes) else incidents < 0
    little_crime = incidents <= crime_low
    heavy = (minutes >= np.quantile(present, HIGH)) & (minutes > presence_low) if len(present) else minutes < 0
    little = minutes <= presence_low
    out = np.full(len(incidents), BALANCED, dtype=object)
    out[high_crime & little & (incidents > 0)] = CRIME_GAP
    out[heavy & little_crime & (minutes > 0)] = PRESENCE_GAP
    return out


def dosage_vs_crime(spans: pd.DataFrame, stays: pd.DataFrame, crime: pd.Series) -> pd.DataFrame:
    """Per cell with presence or crime: ``cell`` (integer), ``minutes``, ``visits``, ``incidents``,
    ``minutes_per_incident``, ``category``; crime cells with the least presence first."""
    minutes = spans.groupby("cell")["minutes"].sum()
    count = stays.groupby("cell").size()
    cells = minutes.index.union(crime.index).union(count.index)
    table = pd.DataFrame(
        {
            "cell": cells.astype(np.int64),
            "minutes": minutes.reindex(cells, fill_value=0).to_numpy(float),
            "visits": count.reindex(cells, fill_value=0).to_numpy(int),
            "incidents": crime.reindex(cells, fill_value=0).to_numpy(int),
        }
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        table["minutes_per_incident"] = np.where(table["incidents"] > 0, table["minutes"] / table["incidents"], np.nan)
    table["category"] = classify(table["incidents"].to_numpy(), table["minutes"].to_numpy())
    return table.sort_values(["incidents", "minutes"], ascending=[False, True], ignore_index=True)


def area_table(
    spans: pd.DataFrame, names: list[str], area_index: np.ndarray, crime: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Minutes per area and shift: ``area`` (None: outside every area), ``shift``, ``minutes``, ``units``,
    and with ``crime`` (``area``, ``shift``, ``incidents``) the incidents and minutes per incident, every
    area and shift with presence or crime listed. ``area_index`` gives each interval's area as an index
    into ``names`` (``len(names)``: outside)."""
    labels = np.array(list(names) + [None], dtype=object)
    frame = spans.assign(area=labels[np.asarray(area_index, dtype=int)])
    table = (
        frame.groupby(["area", "shift"], dropna=False)
        .agg(minutes=("minutes", "sum"), units=("unit", "nunique"))
        .reset_index()
    )
    if crime is not None:
        table = table.merge(crime, on=["area", "shift"], how="outer")
        table = table.fillna({"minutes": 0.0, "units": 0, "incidents": 0}).astype({"units": int, "incidents": int})
        table = table[(table["minutes"] > 0) | (table["incidents"] > 0)]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = table["minutes"] / table["incidents"]
        table["minutes_per_incident"] = ratio.where(table["incidents"] > 0)
    table["area"] = table["area"].astype(object).where(table["area"].notna(), None)  # None: outside every area
    return table.sort_values(["minutes"], ascending=False, ignore_index=True)


def plan_windows(plan: Plan) -> tuple[datetime, datetime]:
    return plan.params.shift.window(plan.params.day)


def plan_visits(plan: Plan, spans: pd.DataFrame) -> pd.DataFrame:
    """Each cell of ``plan`` with the minutes any unit was present in it during the plan's shift:
    ``unit`` (planned), ``stop``, ``cell`` (hex), ``planned_minutes``, ``minutes``, ``visited``.
    ``spans`` are :func:`intervals` at the plan's resolution."""
    begin, end = plan_windows(plan)
    inside = spans[(spans["start"] >= begin) & (spans["start"] < end)]
    minutes = inside.groupby("cell")["minutes"].sum()
    planned = plan.params.limits().minutes_per_cell
    rows = [
        (beat.unit, stop, cell, planned, float(minutes.get(h3int.str_to_int(cell), 0.0)))
        for beat in plan.beats
        for stop, cell in enumerate(beat.cells, start=1)
    ]
    table = pd.DataFrame(rows, columns=["unit", "stop", "cell", "planned_minutes", "minutes"])
    table["visited"] = table["minutes"] > 0
    return table


def plan_summary(plan: Plan, spans: pd.DataFrame, table: pd.DataFrame) -> dict:
    """Share of the plan's cells visited and the minutes inside and outside its cells during its shift."""
    begin, end = plan_windows(plan)
    inside = spans[(spans["start"] >= begin) & (spans["start"] < end)]
    in_plan = inside["cell"].isin({h3int.str_to_int(c) for c in table["cell"]})
    return {
        "plan_id": plan.plan_id,
        "date": plan.params.day.isoformat(),
        "shift": plan.params.shift.label(),
        "res": plan.params.res,
        "cells": len(table),
        "cells_visited": int(table["visited"].sum()),
        "share_visited": float(table["visited"].mean()) if len(table) else 0.0,
        "planned_minutes": float(table["planned_minutes"].sum()),
        "minutes_in_plan_cells": float(inside.loc[in_plan, "minutes"].sum()),
        "minutes_elsewhere": float(inside.loc[~in_plan, "minutes"].sum()),
    }


@dataclass
class Settings:
    """The filters and grid of a dosage report (documented in the module)."""

    res: int = 9
    max_gap_min: float = MAX_GAP_MIN
    max_speed_kmh: float = MAX_SPEED_KMH

    def __post_init__(self):
        if self.res not in (7, 8, 9):
            raise ValueError(f"H3 resolution must be 7, 8 or 9, not {self.res}")
        if not self.max_gap_min > 0 or not self.max_speed_kmh > 0:
            raise ValueError("the gap and speed limits must be positive")


@dataclass
class Dosage:
    """A dosage report: per cell, per visit, per area and shift, per plan, with its settings."""

    start: date
    end: date
    settings: Settings
    pings: int
    bad_fixes: int
    units: int
    synthetic_pings: int
    cells: pd.DataFrame
    visits: pd.DataFrame
    koper: pd.DataFrame
    shifts: pd.DataFrame
    areas: pd.DataFrame | None = None
    layer: str | None = None
    plans: list[dict] = field(default_factory=list)
    plan_cells: dict[int, pd.DataFrame] = field(default_factory=dict)

    @property
    def synthetic(self) -> bool:
        return self.synthetic_pings > 0

    def summary(self) -> dict:
        minutes = float(self.cells["minutes"].sum())
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "synthetic": self.synthetic,
            "synthetic_pings": self.synthetic_pings,
            "pings": self.pings,
            "bad_fixes_dropped": self.bad_fixes,
            "units": self.units,
            "res": self.settings.res,
            "max_gap_min": self.settings.max_gap_min,
            "max_speed_kmh": self.settings.max_speed_kmh,
            "minutes_present": round(minutes, 2),
            "visits": len(self.visits),
            "median_dwell_min": float(self.visits["minutes"].median()) if len(self.visits) else None,
            "cells_high_crime_little_presence": int((self.cells["category"] == CRIME_GAP).sum()),
            "cells_heavy_presence_little_crime": int((self.cells["category"] == PRESENCE_GAP).sum()),
        }

    def to_json(self) -> dict:
        def records(frame: pd.DataFrame) -> list[dict]:
            out = frame.copy()
            if "cell" in out and pd.api.types.is_integer_dtype(out["cell"]):
                out["cell"] = [h3int.int_to_str(int(c)) for c in out["cell"]]
            return out.astype(object).where(out.notna(), None).to_dict(orient="records")

        return {
            **self.summary(),
            "cells": records(self.cells.round({"minutes": 2, "minutes_per_incident": 2})),
            "koper": records(self.koper.round({"share": 4, "incident_after_share": 4})),
            "shifts": records(self.shifts),
            "layer": self.layer,
            "areas": records(self.areas.round({"minutes": 2})) if self.areas is not None else None,
            "plans": [{**p, "cells": records(self.plan_cells[p["plan_id"]])} for p in self.plans],
        }


def shift_table(spans: pd.DataFrame) -> pd.DataFrame:
    """Minutes present per shift day and shift, with the units seen."""
    if spans.empty:
        return pd.DataFrame(columns=["shift_day", "shift", "minutes", "units"])
    return (
        spans.groupby(["shift_day", "shift"])
        .agg(minutes=("minutes", "sum"), units=("unit", "nunique"))
        .reset_index()
        .round({"minutes": 2})
    )


def build(
    pings: pd.DataFrame,
    crime: pd.Series,
    start: date,
    end: date,
    settings: Settings | None = None,
    plans: list[Plan] = (),
    layer: tuple | None = None,
    incidents: pd.DataFrame | None = None,
    until: datetime | None = None,
) -> Dosage:
    """A dosage report from ``pings`` (``avl.pings``), incidents per cell at ``settings.res`` (``crime``,
    integer cell → count) and the approved ``plans`` in the period. ``layer`` is ``(name, area names,
    assign, crime)`` where ``assign(lon, lat)`` gives each point's area index (see ``crimeviz.geo.join``)
    and ``crime`` (or None) the incidents per ``area`` and ``shift``. With ``incidents`` (``occurred_at``,
    ``cell`` at ``settings.res``, known up to ``until``) the dwell-time table says how often an incident
    followed a visit within ``FOLLOW_HOURS``."""
    settings = settings or Settings()
    kept, bad = drop_bad_fixes(pings, settings.max_speed_kmh)
    spans = intervals(kept, settings.res, settings.max_gap_min)
    stays = visits(spans)
    report = Dosage(
        start,
        end,
        settings,
        len(pings),
        bad,
        int(pings["unit"].nunique()) if len(pings) else 0,
        int(pings["synthetic"].sum()) if "synthetic" in pings else 0,
        dosage_vs_crime(spans, stays, crime),
        stays,
        koper_table(stays, incident_after(stays, incidents, until) if incidents is not None else None),
        shift_table(spans),
    )
    if layer is not None:
        name, names, assign, crime_areas = layer
        index = assign(spans["lon"].to_numpy(float), spans["lat"].to_numpy(float)) if len(spans) else []
        report.layer, report.areas = name, area_table(spans, names, index, crime_areas)
    for plan in plans:
        plan_spans = (
            spans if plan.params.res == settings.res else intervals(kept, plan.params.res, settings.max_gap_min)
        )
        table = plan_visits(plan, plan_spans)
        report.plans.append(plan_summary(plan, plan_spans, table))
        report.plan_cells[plan.plan_id] = table
    return report


def synthetic_pings(plan: Plan, seed: int = 0, every_s: int = 30) -> pd.DataFrame:
    """Made-up AVL pings of the plan's units following their beats, for tests and demonstrations.

    Each unit starts at its first cell when the shift begins, stays a plan's time per cell (±30%) and
    drives to the next cell at the plan's travel speed, once round its beat (cut at the plan's patrol
    time); a fix every ``every_s`` seconds, scattered ~30 m around the cell's centre. To exercise the
    filters each unit has one GPS jump (~5 km away for one fix) and one 10-minute radio gap.
    Units are named ``SYN-<plan>-<unit>``."""
    rng = np.random.default_rng(seed)
    begin, _ = plan_windows(plan)
    params = plan.params
    dwell = params.limits().minutes_per_cell
    rows = []
    for beat in plan.beats:
        unit = f"SYN-{plan.plan_id}-{beat.unit}"
        centres = [h3int.cell_to_latlng(h3int.str_to_int(c)) for c in beat.cells]
        track: list[tuple[float, float, float]] = []  # (minute, lat, lon)
        t, stop = 0.0, 0
        while t < params.patrol_minutes and stop < len(centres):
            lat, lon = centres[stop]
            stay = dwell * rng.uniform(0.7, 1.3)
            track.append((t, lat, lon))
            t += stay
            track.append((t, lat, lon))
            stop += 1
            if stop < len(centres):
                nxt = centres[stop]
                t += float(distance_km(lat, lon, nxt[0], nxt[1])) / params.speed_kmh * 60
        times = np.arange(0, min(t, params.patrol_minutes), every_s / 60)
        marks = np.array([p[0] for p in track])
        lat = np.interp(times, marks, [p[1] for p in track])
        lon = np.interp(times, marks, [p[2] for p in track])
        lat += rng.normal(0, 30 / 111_000, len(times))
        lon += rng.normal(0, 30 / (111_000 * np.cos(np.radians(lat))), len(times))
        keep = np.ones(len(times), dtype=bool)
        if len(times) > 60:
            outage = int(rng.integers(10, len(times) - 40))
            keep[outage : outage + int(600 / every_s)] = False  # a 10-minute radio gap
            jump = int(rng.integers(1, outage))
            lat[jump] += 0.045  # one fix ~5 km north: a GPS error
        rows.append(
            pd.DataFrame(
                {
                    "unit": unit,
                    "seen_at": [begin + timedelta(minutes=float(m)) for m in times[keep]],
                    "lat": lat[keep],
                    "lon": lon[keep],
                }
            )
        )
    frame = pd.concat(rows, ignore_index=True)
    frame["seen_at"] = pd.to_datetime(frame["seen_at"]).dt.round("s")
    return frame


def synthetic_source(plan_id: int) -> str:
    """The source name synthetic pings of a plan are stored under (always starts with ``synthetic:``)."""
    return f"{SYNTHETIC_PREFIX}plan-{plan_id}"


def approved_plans(con, start: date, end: date) -> list[Plan]:
    """The approved plans dated from ``start`` to ``end`` (inclusive)."""
    saved = plan_store.list_plans(con)
    chosen = saved[(saved["status"] == "approved") & saved["plan_date"].between(start.isoformat(), end.isoformat())]
    return [plan_store.load_plan(con, int(i)) for i in sorted(chosen["plan_id"])]


def area_crime(con, layer: str, start: date, end: date) -> pd.DataFrame:
    """Incidents per area of ``layer`` (None: outside every area) and shift, by the hour they occurred
    on the days ``start`` to ``end`` (a night shift's early hours are counted on their own calendar day)."""
    rows = []
    for shift in SHIFTS.values():
        hours = (shift.start, (shift.start + shift.hours - 1) % 24)
        table, outside = areas.counts(con, layer, IncidentFilter(start, end, hours=hours))
        rows += [(a, shift.name, int(n)) for a, n in zip(table["name"], table["incidents"])]
        rows.append((None, shift.name, outside))
    return pd.DataFrame(rows, columns=["area", "shift", "incidents"])


def report(con, start: date, end: date, settings: Settings | None = None, layer: str | None = None) -> Dosage:
    """The dosage report for the days ``start`` to ``end`` (inclusive) from the store's pings, incidents,
    approved plans and (optionally) an area layer; ValueError for an unknown layer or reversed dates."""
    settings = settings or Settings()
    if end < start:
        raise ValueError(f"the end date {end} is before the start date {start}")
    area_layer = None
    if layer is not None:
        known = areas.layer_names(con)
        if layer not in known:
            raise ValueError(f"no area layer {layer!r}; layers: {', '.join(known) or '(none)'}")
        names, geometries = areas.layer_geometries(con, layer)
        area_layer = (
            layer,
            names,
            lambda lon, lat: join.assign(lon, lat, geometries),
            area_crime(con, layer, start, end),
        )
    window = (
        datetime.combine(start, datetime.min.time()),
        datetime.combine(end + timedelta(days=1), datetime.min.time()),
    )
    pings = avl.pings(con, *window)
    crime = queries.cell_counts(con, IncidentFilter(start, end), settings.res)
    # incidents up to a day past the period, so visits late on its last day are followed too
    following = queries.incidents(con, IncidentFilter(start, end + timedelta(days=1)))
    cells = np.array([h3int.str_to_int(c) for c in following["h3_9"]], dtype=np.int64)
    if settings.res != 9:
        cells = np.array([h3int.cell_to_parent(int(c), settings.res) for c in cells], dtype=np.int64)
    incidents = pd.DataFrame({"occurred_at": following["occurred_at"], "cell": cells})
    until = datetime.combine(end + timedelta(days=2), datetime.min.time())
    last = counts.last_incident(con)  # incidents are known up to the last one stored
    if last is not None:
        until = min(until, last)
    return build(pings, crime, start, end, settings, approved_plans(con, start, end), area_layer, incidents, until)
