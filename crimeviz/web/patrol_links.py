"""Share links for Patrol plans: the plan settings and the saved plan on screen in the address.

The page's state is three groups of :class:`~crimeviz.web.share.Field` s in one address, handled by
:func:`page_state` in this order:

1. the settings remembered on an earlier run go back first (Streamlit forgets the values of widgets a
   run on another page did not draw, :func:`crimeviz.patrol.session.restore_settings`), so that a
   return to the page shows, and publishes, them rather than the defaults;
2. ``plan``: a link naming a saved plan opens it, its settings into the sidebar;
3. the settings on top (a saved plan opened and then changed is shown stale, as it was);
4. the settings kept per shift, per resolution or per area layer (start, hours, minutes per cell,
   areas), whose keys depend on step 3.
"""

from datetime import date, timedelta

import streamlit as st

from crimeviz.patrol import session
from crimeviz.patrol.plan import MINUTES_PER_CELL
from crimeviz.patrol.risk import SHIFTS, sources
from crimeviz.web import share
from crimeviz.web.share import Field

PLAN_GROUP, SETTINGS_GROUP, CHOICES_GROUP = "patrol_plan", "patrol", "patrol_choices"


def plan_fields(plan_ids: list[int]) -> list[Field]:
    """The saved plan on screen (one of ``plan_ids``)."""
    return [Field(session.LINKED, "plan", "int", tuple(plan_ids))]


def review_days(opts: dict) -> tuple[date, date]:
    """The period reviewed by default: four weeks up to the last day a plan can be reviewed (the day
    before the data's last: a night shift ends the next day)."""
    last = opts["last_date"] - timedelta(days=1)
    return last - timedelta(days=27), last


def settings_fields(opts: dict, layers: list[str]) -> list[Field]:
    """Date, shift, risk source, resolution, units and their limits, offence priorities, exclusions,
    area layer, one area per unit, whether the risk surface is drawn, and the period reviewed."""
    names, risk_sources = list(SHIFTS), sources()
    first, offences, period = opts["first_date"], opts["offences"], review_days(opts)
    return [
        Field("patrol_date", "date", "date", default=opts["last_date"] + timedelta(days=1), low=first, always=True),
        Field("patrol_shift", "shift", "str", tuple(names), default=names[1]),
        Field("patrol_source", "source", "str", tuple(risk_sources), default=risk_sources[-1]),
        Field("patrol_res", "res", "int", (9, 8), default=9),
        Field("patrol_units", "units", "int", default=10, low=0, high=200),
        Field("patrol_minutes", "minutes", "int", default=240, low=0, high=720),
        Field("patrol_max_cells", "max_cells", "int", default=20, low=1, high=200),
        Field("patrol_max_area", "max_km2", "float", default=0.0, low=0.0, high=100.0),
        Field("patrol_speed", "speed", "int", default=20, low=1, high=80),
        *(Field(f"patrol_w_{o}", f"priority.{o}", "float", default=1.0, low=0.0, high=10.0) for o in offences),
        Field("patrol_ex_hoods", "exclude", "list", tuple(opts["neighbourhoods"]), default=[]),
        Field("patrol_ex_cells", "exclude_cells", "str", default=""),
        Field("patrol_area_layer", "layer", "str", tuple(layers), default=layers[0] if layers else None),
        Field("patrol_one_area", "one_area", "bool", default=False),
        Field("patrol_show_risk", "risk_surface", "bool", default=False),
        Field("patrol_review_period", "review", "dates", default=period, low=first, high=period[1]),
    ]


def choice_fields(shift: str, res: int, areas: list[str]) -> list[Field]:
    """The chosen shift's start and hours, the resolution's minutes per cell, the layer's ``areas`` chosen."""
    return [
        Field(f"patrol_start_{shift}", "start", "int", default=SHIFTS[shift].start, low=0, high=23),
        Field(f"patrol_hours_{shift}", "hours", "int", default=SHIFTS[shift].hours, low=1, high=24),
        Field(f"patrol_per_cell_{res}", "per_cell", "int", default=int(MINUTES_PER_CELL[res]), low=1, high=240),
        Field("patrol_areas", "area", "list", tuple(areas), default=[]),
    ]


def page_state(con, opts: dict, plan_ids: list[int], catalogue: dict[str, list[str]]) -> list[str]:
    """Restore the page's state from the address or publish it there (see the module's steps); returns
    notes on a link's values that were refused. The widgets take their defaults from here."""
    state = st.session_state
    session.restore_settings(state)
    session.link_plan(state)
    notes = share.sync(PLAN_GROUP, plan_fields(plan_ids))
    session.open_linked(state, con, opts["offences"], sources())
    notes += share.page_state(SETTINGS_GROUP, settings_fields(opts, list(catalogue)))
    areas = catalogue.get(state.get("patrol_area_layer"), [])
    notes += share.page_state(CHOICES_GROUP, choice_fields(state["patrol_shift"], state["patrol_res"], areas))
    return notes


def publish_plan(plan_ids: list[int]) -> None:
    """Put the plan on screen in the address again (after a run built a new one)."""
    session.link_plan(st.session_state)
    share.publish(PLAN_GROUP, plan_fields(plan_ids))
