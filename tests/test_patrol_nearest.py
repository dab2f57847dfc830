"""The units nearest a camera: beats of approved plans on duty at that moment, nearest first."""

from datetime import datetime, timedelta

import h3

from crimeviz.patrol import nearest, store
from tests.test_patrol_beats import DAY
from tests.test_patrol_store import plan  # noqa: F401 (fixture)


def test_units_on_duty_nearest_the_camera_come_first(empty_store, plan):  # noqa: F811
    saved = store.save_plan(empty_store, plan, "insp.test")
    begin, end = plan.params.shift.window(DAY)
    target = saved.beats[1]
    lat, lon = h3.cell_to_latlng(target.cells[0])
    assert nearest.units_near(empty_store, lat, lon, begin + timedelta(hours=1)) == []  # a draft sends no one
    store.set_status(empty_store, saved.plan_id, "approved", "supt.test", four_eyes=True)
    units = nearest.units_near(empty_store, lat, lon, begin + timedelta(hours=1), k=2)
    assert units[0] == {
        "unit": target.unit,
        "plan_id": saved.plan_id,
        "shift": plan.params.shift.label(),
        "distance_m": 0,
    }
    assert len(units) == 2 and units[1]["distance_m"] > 0
    assert nearest.units_near(empty_store, lat, lon, end) == []  # the shift is over
    assert (
        nearest.units_near(empty_store, lat, lon, datetime.combine(DAY, datetime.min.time()) - timedelta(days=3)) == []
    )
