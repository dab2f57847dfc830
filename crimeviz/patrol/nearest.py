"""The patrol units nearest a place right now: whose approved beat for the current shift is closest.

Used by the live CCTV monitor to name "nearby officers" in an alert's ping. A plan's shift
covers ``moment`` when ``moment`` falls in the window of the shift starting on the plan's
date (:meth:`Shift.window`; a night shift runs past midnight). A beat's distance is the
great-circle distance from the place to the nearest centre of its cells.
"""

from __future__ import annotations

from datetime import datetime

import h3
import numpy as np

from crimeviz.patrol import store
from crimeviz.store.grid import EARTH_RADIUS_M


def _distances_m(lat: float, lon: float, points: np.ndarray) -> np.ndarray:
    """Haversine distances from (lat, lon) to (n, 2) lat/lon points, in metres."""
    p1, l1 = np.radians(lat), np.radians(lon)
    p2, l2 = np.radians(points[:, 0]), np.radians(points[:, 1])
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(a))


def units_near(con, lat: float, lon: float, moment: datetime, k: int = 3) -> list[dict]:
    """Up to ``k`` units of approved plans on duty at ``moment``, nearest first: unit, plan_id, shift, distance_m."""
    plans = store.list_plans(con)
    plans = plans[plans["status"] == "approved"]
    found = []
    for plan_id in plans["plan_id"]:
        plan = store.load_plan(con, int(plan_id))
        shift = plan.params.shift
        begin, end = shift.window(plan.params.day)
        if not begin <= moment < end:
            continue
        for beat in plan.beats:
            if not beat.cells:
                continue
            centres = np.array([h3.cell_to_latlng(c) for c in beat.cells])
            found.append(
                {
                    "unit": int(beat.unit),
                    "plan_id": int(plan_id),
                    "shift": shift.label(),
                    "distance_m": round(float(_distances_m(lat, lon, centres).min())),
                }
            )
    return sorted(found, key=lambda u: u["distance_m"])[:k]
