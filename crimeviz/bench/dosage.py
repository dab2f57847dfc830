"""``python -m crimeviz dosage bench``: time the dosage report on synthetic AVL tracks, and its bad-fix
filter against reading the fixes one by one (the plain loop it replaces), measured in the same run."""

import math
import time

import numpy as np
import pandas as pd

from crimeviz.bench.timing import timed
from crimeviz.patrol import dosage
from crimeviz.store import grid

EARTH_KM = grid.EARTH_RADIUS_M / 1000


def tracks(units: int, per_unit: int, jump_share: float = 0.01, seed: int = 0) -> pd.DataFrame:
    """Random-walk tracks around downtown Toronto, a fix every 30 s, ``jump_share`` of fixes thrown ~20 km."""
    rng = np.random.default_rng(seed)
    frames = []
    for u in range(units):
        lat = 43.65 + np.cumsum(rng.normal(0, 0.0003, per_unit))
        lon = -79.38 + np.cumsum(rng.normal(0, 0.0003, per_unit))
        lat[rng.random(per_unit) < jump_share] += 0.2
        seen = pd.Timestamp("2021-06-01") + pd.to_timedelta(np.arange(per_unit) * 30, unit="s")
        frames.append(pd.DataFrame({"unit": f"U{u:03d}", "seen_at": seen, "lat": lat, "lon": lon}))
    out = pd.concat(frames, ignore_index=True)
    out["cell"] = grid.cells_for_points(out["lat"].to_numpy(), out["lon"].to_numpy())[9].astype(np.int64)
    return out


def fix_by_fix(pings: pd.DataFrame, max_speed_kmh: float = dosage.MAX_SPEED_KMH) -> int:
    """How many fixes a plain loop keeps: each judged against the unit's last kept fix (the baseline)."""
    frame = pings.sort_values(["unit", "seen_at"], kind="stable")
    seconds = frame["seen_at"].to_numpy("datetime64[ms]").astype(np.int64) / 1000.0
    kept, last = 0, None
    for unit, t, lat, lon in zip(frame["unit"], seconds, frame["lat"], frame["lon"]):
        if last is not None and unit == last[0]:
            p1, p2 = math.radians(last[2]), math.radians(lat)
            a = (
                math.sin((p2 - p1) / 2) ** 2
                + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon - last[3]) / 2) ** 2
            )
            km = 2 * EARTH_KM * math.asin(math.sqrt(min(1.0, a)))
            if km / (max(t - last[1], 1.0) / 3600) > max_speed_kmh:
                continue
        kept += 1
        last = (unit, t, lat, lon)
    return kept


def bench_dosage(units: int = 50, per_unit: int = 20_000, repeats: int = 3, seed: int = 0) -> dict:
    """Median times of the bad-fix filter and of the whole report (presence, visits, dwell table,
    dosage vs crime) on ``units`` × ``per_unit`` pings, and the one-by-one loop once as the baseline."""
    pings = tracks(units, per_unit, seed=seed)
    kept, dropped = dosage.drop_bad_fixes(pings)
    filter_s = timed(lambda: dosage.drop_bad_fixes(pings), repeats)
    t0 = time.perf_counter()
    baseline_kept = fix_by_fix(pings)
    baseline_s = time.perf_counter() - t0
    crime = pd.Series(1, index=pd.Index(pings["cell"].drop_duplicates().to_numpy()[::7]))
    report_s = timed(lambda: dosage.build(pings, crime, None, None), repeats)
    return {
        "pings": len(pings),
        "units": units,
        "bad_fixes": dropped,
        "same_fixes_kept_as_baseline": baseline_kept == len(kept),
        "filter_s": round(filter_s, 3),
        "fix_by_fix_baseline_s": round(baseline_s, 3),
        "filter_speedup": round(baseline_s / filter_s, 1) if filter_s else None,
        "report_s": round(report_s, 3),
        "repeats": repeats,
    }
