"""Patrol plans: beats and routes for a shift's units, saved and approved, then reviewed against what happened."""

import streamlit as st

from crimeviz import config
from crimeviz.explore import area_maps, maps
from crimeviz.patrol import export, review, session, store, views
from crimeviz.patrol.plan import PlanParams, risk_for
from crimeviz.patrol.risk import SHIFTS, Shift, source_label, sources
from crimeviz.store import audit, grid, queries
from crimeviz.web import area_views, patrol_links, tiles, ui

st.title("Patrol plans")
user = ui.require("patrol")
con = ui.connection()
opts = ui.options(con)
if opts["first_date"] is None:
    st.warning("The database holds no incidents yet: import some on the Data page.")
    st.stop()
store_path, version = str(config.db_path()), ui.data_version(con)
state = st.session_state
four_eyes = config.four_eyes()
saved = store.list_plans(con)
saved_ids = [int(i) for i in saved["plan_id"]]
ui.link_notes(patrol_links.page_state(con, opts, saved_ids, ui.area_catalogue(con)))  # settings and plan in the URL


@st.cache_data(show_spinner="Computing the risk surface…", max_entries=16)
def risk_surface(params_json: str, store_path: str, version: int):
    return risk_for(ui.connection(), PlanParams.from_json(params_json))


@st.cache_data(show_spinner=False)
def city_cells(store_path: str, version: int) -> list[str]:
    return grid.to_hex(queries.study_cells(ui.connection(), 7))


def area_settings() -> tuple[str | None, list[str], bool]:
    """The sidebar's areas to patrol: a layer, some of its areas, one area per unit."""
    catalogue = ui.area_catalogue(con)
    with st.expander("Areas to patrol"):
        if not catalogue:
            st.caption("No area layers yet: an administrator imports them on the Areas page.")
            return None, [], False
        if state.get("patrol_area_layer") not in catalogue:
            state.pop("patrol_area_layer", None)
        layer = st.selectbox("Area layer", list(catalogue), key="patrol_area_layer")
        state["patrol_areas"] = [a for a in state.get("patrol_areas", []) if a in catalogue[layer]]
        chosen = st.multiselect("Patrol only in", catalogue[layer], key="patrol_areas", placeholder="The whole city")
        one = st.checkbox(
            "Each unit stays inside one area (its official beat)",
            key="patrol_one_area",
            help="Beats never straddle two areas of the layer; cells outside every area are left out.",
        )
    return layer, chosen, one


def settings() -> PlanParams | None:
    """The sidebar's plan settings; None (with the reason shown) when they cannot be used."""
    with st.sidebar:  # the widgets' defaults: patrol_links
        st.header("Plan settings")
        day = st.date_input("Date", min_value=opts["first_date"], format="YYYY-MM-DD", key="patrol_date")
        name = st.selectbox("Shift", list(SHIFTS), key="patrol_shift", format_func=str.title)
        a, b = st.columns(2)
        start = a.number_input("Starts at (hour)", 0, 23, key=f"patrol_start_{name}")
        hours = b.number_input("Hours", 1, 24, key=f"patrol_hours_{name}")
        source = st.selectbox("Risk from", sources(), key="patrol_source", format_func=source_label)
        res = st.radio(
            "H3 resolution", [9, 8], horizontal=True, key="patrol_res", help="9 ≈ 0.11 km² per cell, 8 ≈ 0.74 km²"
        )
        units = st.number_input("Units", 0, 200, key="patrol_units")
        a, b = st.columns(2)
        patrol = a.number_input("Patrol minutes per unit", 0, 720, step=15, key="patrol_minutes")
        per_cell = b.number_input("Minutes per cell", 1, 240, key=f"patrol_per_cell_{res}")
        max_cells = a.number_input("Max cells per unit", 1, 200, key="patrol_max_cells")
        max_area = b.number_input("Max km² per unit (0: none)", 0.0, 100.0, step=0.5, key="patrol_max_area")
        speed = st.number_input("Travel speed (km/h)", 1, 80, key="patrol_speed")
        with st.expander("Offence priorities"):
            weights = tuple((o, st.number_input(o, 0.0, 10.0, step=0.5, key=f"patrol_w_{o}")) for o in opts["offences"])
        with st.expander("Excluded areas"):
            hoods = st.multiselect("Neighbourhoods", opts["neighbourhoods"], key="patrol_ex_hoods")
            typed = st.text_area("H3 cells (hex, one per line)", key="patrol_ex_cells")
        area_layer, chosen_areas, one_area = area_settings()
    session.remember_settings(state)
    try:
        return PlanParams(
            day,
            Shift(name, int(start), int(hours)),
            res,
            int(units),
            float(patrol),
            float(per_cell),
            float(speed),
            int(max_cells),
            float(max_area) or None,
            weights,
            session.excluded_cells(ui.neighbourhood_names(con, res), hoods, typed),
            source,
            area_layer if chosen_areas or one_area else None,
            tuple(chosen_areas),
            one_area,
        )
    except ValueError as exc:
        st.error(f"These settings cannot be used: {exc}.")
        return None


params = settings()
current = state.get(session.PLAN)
if params is not None:
    new = st.sidebar.button("Build new plan", type="primary", key="patrol_build")
    rebuild = (
        not new
        and current is not None
        and current.plan_id is not None
        and current.status == "draft"
        and st.sidebar.button(
            f"Rebuild plan #{current.plan_id}",
            key="patrol_rebuild",
            help="Replace the beats of this saved draft with a plan built on these settings; press Save draft to keep it.",
        )
    )
    try:
        session.update_plan(state, con, params, user.username, new, rebuild)
    except ValueError as exc:
        st.error(f"No plan: {exc}.")
    patrol_links.publish_plan(saved_ids)

tab_plan, tab_saved, tab_review = st.tabs(["Plan", "Saved plans", "Review"])

with tab_saved:
    if saved.empty:
        st.info("No plans saved yet: build one and press *Save draft*.")
    else:
        st.dataframe(
            saved.assign(share_of_shift=(100 * saved["share_of_shift"]).round(1)),
            hide_index=True,
            key="patrol_saved_table",
        )
        pick = st.selectbox(
            "Plan",
            saved["plan_id"],
            key="patrol_open_id",
            format_func=lambda i: views.saved_plan_label(saved, i),
        )
        st.button(
            "Open this plan",
            key="patrol_open",
            on_click=session.open_plan,
            args=(state, con, int(pick), opts["offences"], sources()),
        )

plan = state.get(session.PLAN)
with tab_plan:
    if session.NOTICE in state:
        st.success(state.pop(session.NOTICE))
    if plan is None:
        st.info("Choose the plan settings in the sidebar and press *Build new plan*.")
    else:
        stale = session.is_stale(plan, params)
        st.subheader(views.plan_heading(plan))
        if stale:
            st.warning(views.stale_note(plan))
        for column, (label, value) in zip(st.columns(5), views.plan_metrics(plan)):
            column.metric(label, value)
        if len(plan.beats) < plan.params.units:
            st.warning(f"Only {len(plan.beats)} of {plan.params.units} units could be given a beat.")
        names = ui.neighbourhood_names(con, plan.params.res)
        try:
            risk = risk_surface(plan.params.to_json(), store_path, version)
        except ValueError as exc:
            risk = None
            st.info(
                f"The plan's risk surface cannot be recomputed ({exc}); the plan can be viewed and "
                "exported but not edited."
            )
        show_risk = st.toggle("Show the risk surface", key="patrol_show_risk", disabled=risk is None)
        kept, catalogue = plan.params, ui.area_catalogue(con)
        area_outline = []
        if kept.by_area and kept.area_layer in catalogue:  # the areas the plan keeps to
            shapes = area_views.features(con, kept.area_layer)
            area_outline = [area_maps.outline_layer(shapes, kept.areas or catalogue[kept.area_layer])]
        deck, risk_legend = views.plan_map(
            plan, names, city_cells(store_path, version), risk if show_risk else None, tiles.basemap(con), area_outline
        )
        event = st.pydeck_chart(deck, on_select="rerun", selection_mode="single-object", key="patrol_map")
        st.markdown(
            maps.legend_html(views.unit_legend(plan, names), "Units (route loops start at the white dot)"),
            unsafe_allow_html=True,
        )
        if show_risk:
            st.markdown(
                maps.legend_html(risk_legend, "Expected incidents per cell in the shift"), unsafe_allow_html=True
            )
        st.caption(views.method_note(plan))

        st.markdown("**Units**")
        st.dataframe(views.unit_table(plan, names), hide_index=True, key="patrol_units_table")
        unit = st.selectbox("Stops of unit", [b.unit for b in plan.beats], key="patrol_stops_unit")
        stops = views.stops_table(plan, names)
        st.dataframe(stops[stops["unit"] == unit].drop(columns="unit"), hide_index=True, key="patrol_stops_table")

        a, b, c, d = st.columns(4)
        stem = f"patrol-plan-{plan.plan_id or 'draft'}-{plan.params.day}-{plan.params.shift.name}"
        context = city_cells(store_path, version)
        if a.download_button(
            "Printable PDF",
            lambda: export.plan_pdf(plan, names, context),
            f"{stem}.pdf",
            "application/pdf",
            key="patrol_pdf",
        ):
            audit.record(con, user.username, "patrol.export", "patrol_plan", plan.plan_id, {"format": "pdf"})
        if b.download_button("CSV of stops", export.plan_csv(plan, names), f"{stem}.csv", "text/csv", key="patrol_csv"):
            audit.record(con, user.username, "patrol.export", "patrol_plan", plan.plan_id, {"format": "csv"})
        barrier = session.approval_barrier(con, plan, user.username, four_eyes, stale)
        try:
            if c.button("Save draft", disabled=plan.status != "draft" or stale, key="patrol_save"):
                session.save(state, con, user.username)
                st.rerun()
            if plan.status == "approved" and d.button("Reopen as draft", key="patrol_reopen"):
                session.reopen(state, con, user.username)
                st.rerun()
        except ValueError as exc:
            st.error(f"Not saved: {exc}.")
        if plan.status == "draft" and d.button(
            "Approve" if four_eyes else "Save and approve",
            type="primary",
            disabled=barrier is not None,
            help=barrier and f"Not now: {barrier}.",
            key="patrol_approve",
        ):
            try:
                session.approve(state, con, user.username, four_eyes)
                st.rerun()
            except ValueError as exc:
                st.error(f"Not approved: {exc}.")
        if plan.status == "draft" and barrier and not stale:
            st.caption(f"Approval: {barrier}.")
        if plan.created_at:
            st.caption(views.provenance(plan))

        with st.expander("Edit beats", expanded=False):
            session.take_clicked_cell(
                state, event.selection.objects if event and event.selection else {}, "patrol_edit_cell"
            )
            st.caption(
                "Click a cell on the map (or type its id) and assign it to a unit, or remove it. "
                "Beats must stay contiguous and within the unit's limits."
            )
            e1, e2 = st.columns(2)
            cell = e1.text_input("Cell", key="patrol_edit_cell").strip().lower()
            target = e2.selectbox("Unit", [b.unit for b in plan.beats], key="patrol_edit_unit")
            b1, b2 = st.columns(2)
            try:
                if b1.button("Assign to unit", key="patrol_assign", disabled=not cell or risk is None):
                    session.assign(state, risk, cell, int(target), con)
                    st.rerun()
                if b2.button("Remove from plan", key="patrol_remove", disabled=not cell):
                    session.remove(state, cell)
                    st.rerun()
            except ValueError as exc:
                st.error(f"Not changed: {exc}.")

with tab_review:
    st.markdown(
        "**Hit rate**: share of the shift's incidents (offences with a priority above 0) that occurred in "
        "the plan's cells. **PAI**: hit rate ÷ the cells' share of the city's area. Compared with the "
        "naive *top-k cells* plan (as many cells, the riskiest ones, not contiguous) and with a plan built "
        "by the same method from historical counts only."
    )
    if plan is not None:
        st.markdown(f"**This plan** ({plan.params.day}, {plan.params.shift.label()})")
        try:
            st.dataframe(review.review_plan(con, plan).round(3), hide_index=True, key="patrol_review_plan")
        except ValueError as exc:
            st.info(f"Not reviewed: {exc}.")
    st.markdown("**Plans over a period** (built with the sidebar settings for every day)")
    period = st.date_input(
        "Period",
        min_value=opts["first_date"],
        max_value=patrol_links.review_days(opts)[1],
        format="YYYY-MM-DD",
        key="patrol_review_period",
    )
    if st.button("Review this period", key="patrol_review_run") and params is not None:
        with st.spinner("Building and scoring a plan for every day…"):
            try:
                state["patrol_review"] = session.review_period(con, params, period)
            except ValueError as exc:
                st.error(f"No review: {exc}.")
    daily = state.get("patrol_review")
    if daily is not None:
        st.plotly_chart(views.review_chart(daily), key="patrol_review_chart")
        st.dataframe(review.period_summary(daily).round(3), hide_index=True, key="patrol_review_summary")
