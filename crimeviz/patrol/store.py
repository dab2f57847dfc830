"""The ``patrol_plans`` and ``patrol_plan_cells`` tables: saved plans, re-opened, edited and approved.

A plan row keeps its parameters (JSON), the risk model and version it was built on,
who made it and when, its status (draft/approved, with who approved it and when) and
its coverage; its cells are rows of (plan, unit, stop, cell, risk). Every write is one
transaction with its entry in the audit trail.
"""

from dataclasses import replace
from datetime import datetime

import numpy as np
import pandas as pd

from crimeviz.patrol.plan import STATUSES, Beat, Plan, PlanParams
from crimeviz.patrol.risk import PlanError
from crimeviz.store import audit, db, grid

SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS patrol_plan_seq;
CREATE TABLE IF NOT EXISTS patrol_plans (
    plan_id      BIGINT PRIMARY KEY DEFAULT nextval('patrol_plan_seq'),
    created_at   TIMESTAMP NOT NULL,
    created_by   VARCHAR NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    status       VARCHAR NOT NULL CHECK (status IN ('draft', 'approved')),
    approved_by  VARCHAR,
    approved_at  TIMESTAMP,
    plan_date    DATE NOT NULL,
    shift        VARCHAR NOT NULL,
    res          TINYINT NOT NULL,
    params       VARCHAR NOT NULL,
    risk_model   VARCHAR NOT NULL,
    risk_version VARCHAR NOT NULL,
    method       VARCHAR NOT NULL,
    total_risk   DOUBLE NOT NULL,
    day_risk     DOUBLE NOT NULL,
    covered_risk DOUBLE NOT NULL
);
CREATE TABLE IF NOT EXISTS patrol_plan_cells (
    plan_id  BIGINT NOT NULL,
    unit     INTEGER NOT NULL,
    stop     INTEGER NOT NULL,
    cell     UBIGINT NOT NULL,
    risk     DOUBLE NOT NULL,
    route_km DOUBLE NOT NULL
);
"""


def ensure_tables(con) -> None:
    """Create the tables if missing (under the store's write lock, like every write)."""
    db.ensure_schema(con, SCHEMA, ("patrol_plans", "patrol_plan_cells"))


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def save_plan(con, plan: Plan, by: str) -> Plan:
    """Insert a new plan or replace a saved draft's content (user ``by``); returns it with id and timestamps."""
    ensure_tables(con)
    now = _now()
    p = plan.params
    values = [
        p.day,
        p.shift.label(),
        p.res,
        p.to_json(),
        plan.risk_model,
        plan.risk_version,
        plan.method,
        plan.total_risk,
        plan.day_risk,
        plan.covered,
    ]
    with db.transaction(con):
        if plan.plan_id is None:
            plan_id = con.execute(
                "INSERT INTO patrol_plans (created_at, created_by, updated_at, status, plan_date, shift, res, params, "
                "risk_model, risk_version, method, total_risk, day_risk, covered_risk) "
                "VALUES (?, ?, ?, 'draft', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING plan_id",
                [now, plan.created_by, now, *values],
            ).fetchall()[0][0]
            plan = replace(plan, plan_id=plan_id, created_at=now, status="draft")
        else:
            if _status(con, plan.plan_id) != "draft":
                raise PlanError(f"plan {plan.plan_id} is approved: reopen it as a draft before changing it")
            con.execute(
                "UPDATE patrol_plans SET updated_at = ?, plan_date = ?, shift = ?, res = ?, params = ?, "
                "risk_model = ?, risk_version = ?, method = ?, total_risk = ?, day_risk = ?, covered_risk = ? "
                "WHERE plan_id = ?",
                [now, *values, plan.plan_id],
            )
            con.execute("DELETE FROM patrol_plan_cells WHERE plan_id = ?", [plan.plan_id])
        cells = plan.cells_frame()
        rows = pd.DataFrame(
            {
                "plan_id": plan.plan_id,
                "unit": cells["unit"],
                "stop": cells["stop"],
                "cell": np.array([grid.to_int(c) for c in cells["cell"]], dtype=np.uint64),
                "risk": cells["risk"],
                "route_km": cells["unit"].map({b.unit: b.route_km for b in plan.beats}).astype(float),
            }
        )
        db.insert_frame(con, "patrol_plan_cells", rows)
        audit.record(
            con,
            by,
            "patrol.save",
            "patrol_plan",
            plan.plan_id,
            {"date": p.day, "shift": p.shift.label(), "units": len(plan.beats)},
        )
    return replace(plan, updated_at=now)


def _status(con, plan_id: int) -> str:
    rows = con.execute("SELECT status FROM patrol_plans WHERE plan_id = ?", [int(plan_id)]).fetchall()
    if not rows:
        raise PlanError(f"there is no saved plan {plan_id}")
    return rows[0][0]


def load_plan(con, plan_id: int) -> Plan:
    """A saved plan by id; PlanError if there is none."""
    ensure_tables(con)
    _status(con, plan_id)
    fields = (
        "total_risk",
        "day_risk",
        "risk_model",
        "risk_version",
        "created_by",
        "method",
        "status",
        "plan_id",
        "created_at",
        "updated_at",
        "approved_by",
        "approved_at",
    )
    params, *values = con.execute(
        f"SELECT params, {', '.join(fields)} FROM patrol_plans WHERE plan_id = ?", [int(plan_id)]
    ).fetchall()[0]
    cells = con.execute(
        "SELECT unit, stop, lower(hex(cell)) AS cell, risk, route_km FROM patrol_plan_cells "
        "WHERE plan_id = ? ORDER BY unit, stop",
        [int(plan_id)],
    ).df()
    beats = tuple(
        Beat(int(unit), tuple(part["cell"]), tuple(part["risk"].astype(float)), float(part["route_km"].iloc[0]))
        for unit, part in cells.groupby("unit", sort=True)
    )
    return Plan(PlanParams.from_json(params), beats, **dict(zip(fields, values)))


def list_plans(con) -> pd.DataFrame:
    """Saved plans, newest first, with their coverage."""
    ensure_tables(con)
    return con.execute(
        "SELECT p.plan_id, CAST(p.plan_date AS VARCHAR) AS plan_date, p.shift, p.res, p.status, "
        "count(c.cell) AS cells, count(DISTINCT c.unit) AS units, p.covered_risk / p.total_risk AS share_of_shift, "
        "p.risk_model, p.created_by, p.created_at, p.updated_at, p.approved_by FROM patrol_plans p "
        "LEFT JOIN patrol_plan_cells c USING (plan_id) GROUP BY p.plan_id, p.plan_date, p.shift, p.res, p.status, "
        "p.covered_risk, p.total_risk, p.risk_model, p.created_by, p.created_at, p.updated_at, p.approved_by "
        "ORDER BY p.plan_id DESC"
    ).df()


def authors(con, plan_id: int) -> set[str]:
    """Who created the plan and everyone who saved a version of it (from the audit trail)."""
    rows = con.execute(
        "SELECT created_by FROM patrol_plans WHERE plan_id = ? UNION SELECT username FROM audit_log "
        "WHERE action = 'patrol.save' AND object_type = 'patrol_plan' AND object_id = ?",
        [int(plan_id), str(int(plan_id))],
    ).fetchall()
    return {r[0] for r in rows}


def set_status(con, plan_id: int, status: str, by: str, four_eyes: bool, seen: datetime | None = None) -> Plan:
    """Approve a plan (recording who and when), or reopen it as a draft; audited as user ``by``.

    With ``four_eyes`` a plan is approved only by someone who neither created nor saved it. Given
    ``seen`` (the ``updated_at`` of the version on the approver's screen), a plan saved again since is
    not approved unseen. Both checks run in the approving transaction; a refusal is audited and
    raises PlanError.
    """
    if status not in STATUSES:
        raise PlanError(f"status must be one of {', '.join(STATUSES)}")
    ensure_tables(con)
    _status(con, plan_id)
    now = _now()
    approved = (by, now) if status == "approved" else (None, None)
    refusal = None
    with db.transaction(con):
        stored = con.execute("SELECT updated_at FROM patrol_plans WHERE plan_id = ?", [int(plan_id)]).fetchall()[0][0]
        if status == "approved" and seen is not None and stored != seen:
            refusal = (
                "changed",
                (
                    f"plan {plan_id} was saved again at {stored:%Y-%m-%d %H:%M:%S} after you opened it: "
                    "open it again to see that version before approving"
                ),
            )
        elif status == "approved" and four_eyes and by in authors(con, plan_id):
            refusal = (
                "four-eyes",
                (f"plan {plan_id} needs a second commander's approval: {by} created or saved it (four-eyes rule)"),
            )
        else:
            con.execute(
                "UPDATE patrol_plans SET status = ?, updated_at = ?, approved_by = ?, approved_at = ? WHERE plan_id = ?",
                [status, now, *approved, int(plan_id)],
            )
            action = "patrol.approve" if status == "approved" else "patrol.reopen"
            audit.record(con, by, action, "patrol_plan", plan_id)
    if refusal:
        audit.record(con, by, "patrol.approve_refused", "patrol_plan", plan_id, {"reason": refusal[0]})
        raise PlanError(refusal[1])
    return load_plan(con, plan_id)
