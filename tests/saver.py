"""The process that test_faults.py kills mid-save: ``python -m tests.saver KIND STORE SAVES [PAUSE]``.

It builds one large CCTV report (KIND ``cctv``) or patrol plan (``patrol``), prints "ready", then
saves it SAVES times into STORE, printing the first words of each statement once it has run
("BEGIN TRANSACTION", "INSERT INTO audit_log", "COMMIT"…); with PAUSE (one of those) it stops
after the first such statement, prints "paused" and waits to be killed.
"""

import sys
import time
from contextlib import contextmanager

import h3
import numpy as np

from crimeviz.cctv import store as cctv_store
from crimeviz.patrol import store as patrol_store
from crimeviz.patrol.plan import Beat, Plan, PlanParams
from crimeviz.store import db
from tests.test_patrol_beats import CENTRE, DAY

FRAMES, KEYFRAMES, KEYFRAME_BYTES = 200_000, 200, 100_000  # a report of ~20 MB in one row
PLAN_UNITS, PLAN_CELLS = 10, 5_000  # a plan of 50,000 cell rows
SAVES = 3


class Narrated:
    """The store's connection, printing each statement once it has run (and pausing after ``pause``)."""

    def __init__(self, con, pause: str | None):
        self.con, self.pause = con, pause

    def __getattr__(self, name):
        return getattr(self.con, name)

    def execute(self, sql, *args):
        result = self.con.execute(sql, *args)
        self.say(" ".join(sql.split()[:3]))
        return result

    @contextmanager
    def transaction(self):
        """The store's transaction, narrated at the outermost level only (an audited write nests)."""
        self.depth = getattr(self, "depth", 0) + 1
        try:
            with self.con.transaction():
                if self.depth == 1:
                    self.say("BEGIN TRANSACTION")
                yield self
        finally:
            self.depth -= 1
        if self.depth == 0:
            self.say("COMMIT")

    def say(self, head: str) -> None:
        print(head, flush=True)
        if head == self.pause:
            print("paused", flush=True)
            time.sleep(600)


def main(kind: str, path: str, saves: int, pause: str | None = None) -> None:
    con = db.connect(path)
    narrated = Narrated(con, pause)
    if kind == "cctv":
        record = {
            "created_at": "2024-05-01T12:30:00",
            "camera": cctv_store.camera(con, name="Gate"),
            "clip": {
                "name": "long.avi",
                "sha256": "ab" * 32,
                "duration_s": FRAMES / 10,
                "fps": 10.0,
                "n_frames": FRAMES,
                "width": 640,
                "height": 480,
            },
            "threshold": 0.5,
            "peak": 0.9,
            "segments": [{"start_frame": i, "end_frame": i + 1} for i in range(0, FRAMES, 2)],
            "frame_scores": [0.5] * FRAMES,
            "model": {"version": "test+0", "label": "made-up scores"},
            "reviewer": "reviewer1",
            "note": "",
        }
        keyframes = [np.random.default_rng(i).bytes(KEYFRAME_BYTES) for i in range(KEYFRAMES)]

        def save():
            cctv_store.save_report(narrated, record, keyframes)
    else:
        cells = h3.grid_disk(CENTRE, 130)  # 51,091 cells
        beats = tuple(
            Beat(u + 1, tuple(cells[u * PLAN_CELLS : (u + 1) * PLAN_CELLS]), (0.01,) * PLAN_CELLS, 9.0)
            for u in range(PLAN_UNITS)
        )
        plan = Plan(PlanParams(DAY, units=PLAN_UNITS), beats, 600.0, 900.0, "hand-made", "v1", "insp.test")

        def save():
            patrol_store.save_plan(narrated, plan, "insp.test")

    print("ready", flush=True)
    for _ in range(saves):
        save()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), *sys.argv[4:])
