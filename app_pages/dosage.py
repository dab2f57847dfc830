"""Patrol dosage: minutes units spent in each cell and area (from AVL/GPS pings) against crime, against the
approved plans, and the length of each stay; administrators import pings or make synthetic ones."""

import json
from datetime import timedelta

import streamlit as st

from crimeviz import config
from crimeviz.explore import maps
from crimeviz.patrol import dosage, dosage_views
from crimeviz.patrol import store as plans
from crimeviz.patrol.risk import PlanError
from crimeviz.store import areas, audit, avl, db, importer, safe_csv
from crimeviz.store.importer import ImportFailed
from crimeviz.web import tiles, ui


@st.cache_data(show_spinner=False, max_entries=8)
def cached_report(key: tuple, start, end, res: int, gap: float, speed: float, layer: str | None) -> dosage.Dosage:
    """The report for ``key`` (the store and what the report reads changes it; Streamlit hashes it)."""
    return dosage.report(ui.connection(), start, end, dosage.Settings(res, gap, speed), layer)


user = ui.require("patrol")
con = ui.connection()
st.title("Patrol dosage")
ui.write_notice()
st.caption(
    "Time units were present per H3 cell, from their AVL/GPS pings: the time between two fixes counts for the "
    "cell of the first when they are at most the gap apart (longer: not present), and a fix implying more than "
    "the speed limit from the unit's last good fix is dropped as a GPS error."
)

catalogue = avl.sources(con)
if catalogue.empty:
    st.info(
        "No AVL pings yet. "
        + (
            "Import a file or make synthetic pings from an approved plan below."
            if user.may("data")
            else "An administrator imports them."
        )
    )
else:
    if catalogue["synthetic"].any():
        st.warning(
            ":material/science: Synthetic pings are stored (sources named synthetic:…): made from approved plans "
            "to demonstrate and test this page, not recorded by vehicles.",
        )
    with st.expander(f"Ping sources ({len(catalogue)})"):
        st.dataframe(catalogue, hide_index=True, key="dosage_sources")

    first, last = catalogue["first"].min().date(), catalogue["last"].max().date()
    if pending := st.session_state.pop("dosage_days_next", None):  # the days of pings just made
        st.session_state["dosage_days"] = pending
    st.session_state.setdefault("dosage_days", (first, last))
    layers = ["(none)", *areas.layer_names(con)]
    a, b, c = st.columns(3)
    period = a.date_input("Days", key="dosage_days", format="YYYY-MM-DD")
    res = b.selectbox("H3 resolution", (9, 8, 7), key="dosage_res")
    layer = c.selectbox("Area layer (minutes per area and shift)", layers, key="dosage_layer")
    d, e = st.columns(2)
    gap = d.number_input("Gap (minutes) counted as not present", 0.5, 120.0, dosage.MAX_GAP_MIN, key="dosage_gap")
    speed = e.number_input("Speed (km/h) above which a fix is bad", 20.0, 500.0, dosage.MAX_SPEED_KMH, key="dosage_kmh")
    if not isinstance(period, (tuple, list)) or len(period) != 2:
        st.info("Pick the last day too.")
        st.stop()
    start, end = period
    # The report changes with the pings, the incidents, the plans and the layers: its cache key holds them all.
    saved = plans.list_plans(con)
    key = (
        str(config.store_location()),
        avl.version(con),
        db.data_version(con),
        saved[["plan_id", "status", "updated_at"]].to_json(),
        tuple(layers),
    )
    with st.spinner("Computing presence…"):
        report = cached_report(key, start, end, res, gap, speed, None if layer == "(none)" else layer)
    summary = report.summary()
    if report.synthetic:
        st.warning(
            f":material/science: {report.synthetic_pings:,} of the {report.pings:,} pings in this period are "
            "synthetic: the figures below describe made-up patrols."
        )
    m = st.columns(4)
    m[0].metric("Hours present", f"{summary['minutes_present'] / 60:,.1f}")
    m[1].metric("Visits", f"{summary['visits']:,}")
    m[2].metric("Median stay", f"{summary['median_dwell_min'] or 0:.1f} min")
    m[3].metric("Bad fixes dropped", f"{summary['bad_fixes_dropped']:,}")

    st.subheader("Dosage vs crime")
    deck = dosage_views.dosage_map(report, tiles.basemap(con))
    if deck is None:
        st.info("No presence and no incidents in this period.")
    else:
        st.pydeck_chart(deck, key="dosage_map")
        st.markdown(maps.legend_html(dosage_views.map_legend(), "Cells"), unsafe_allow_html=True)
        st.caption(
            "High crime, little presence: incidents in the top fifth of cells with incidents and minutes in the "
            "bottom fifth of cells with presence (or none); heavy presence, little crime the other way round."
        )
    crime_gap, presence_gap = dosage_views.gap_tables(report)
    left, right = st.columns(2)
    left.markdown(f"**{dosage.CRIME_GAP}** ({summary['cells_high_crime_little_presence']:,} cells)")
    left.dataframe(crime_gap, hide_index=True, key="dosage_crime_gap")
    right.markdown(f"**{dosage.PRESENCE_GAP}** ({summary['cells_heavy_presence_little_crime']:,} cells)")
    right.dataframe(presence_gap, hide_index=True, key="dosage_presence_gap")
    table = report.cells.assign(cell=[f"{int(c):x}" for c in report.cells["cell"]], synthetic_pings=report.synthetic)
    if st.download_button(
        "Dosage per cell (CSV)",
        safe_csv.to_csv_bytes(table),
        f"dosage-{start}-{end}.csv",
        "text/csv",
        key="dosage_csv",
    ):
        detail = {"start": start, "end": end, "res": res, "synthetic": report.synthetic}
        audit.record(con, user.username, "dosage.export", "dosage_report", f"{start}..{end}", detail)

    st.subheader("Length of stays")
    st.plotly_chart(dosage_views.koper_chart(report), key="dosage_koper")
    st.caption(
        "Koper (1995, Justice Quarterly 12(4)) found that the longer police stayed in a hot spot, the longer "
        "disorder stayed away after they left, up to about 10–15 minutes; longer stays added little. The line: "
        f"the share of visits after which an incident was recorded in the cell within {dosage.FOLLOW_HOURS:g} hours "
        "(visits whose next hours the data do not cover yet are left out). Recorded crime is rarer than the "
        "disorder Koper observed: compare bins with many visits only."
    )
    st.dataframe(report.koper.round({"share": 3, "incident_after_share": 3}), hide_index=True, key="dosage_koper_table")

    st.subheader("Per shift")
    st.dataframe(report.shifts, hide_index=True, key="dosage_shifts")
    if report.areas is not None:
        st.markdown(
            f"**Minutes present and incidents per area of {ui.plain(report.layer)} and shift** "
            "(no area: outside every area; incidents by the hour they occurred)"
        )
        st.dataframe(report.areas.round({"minutes": 1}), hide_index=True, key="dosage_areas")

    st.subheader("Visits vs approved plans")
    if not report.plans:
        st.info("No approved plan is dated in this period.")
    for plan in report.plans:
        st.markdown(
            f"**Plan #{plan['plan_id']}** — {plan['date']}, {ui.plain(plan['shift'])}: "
            f"{plan['cells_visited']} of {plan['cells']} planned cells visited ({plan['share_visited']:.0%}); "
            f"{plan['minutes_in_plan_cells']:,.0f} minutes in planned cells (planned "
            f"{plan['planned_minutes']:,.0f}), {plan['minutes_elsewhere']:,.0f} elsewhere during the shift."
        )
        st.dataframe(report.plan_cells[plan["plan_id"]], hide_index=True, key=f"dosage_plan_{plan['plan_id']}")
    st.download_button(
        "Whole report (JSON)",
        json.dumps(report.to_json(), default=str, indent=1),
        f"dosage-{start}-{end}.json",
        "application/json",
        key="dosage_json",
        on_click=audit.record,
        args=(con, user.username, "dosage.export", "dosage_report", f"{start}..{end}", {"format": "json"}),
    )

if not user.may("data"):
    st.stop()

st.divider()
st.subheader("Add pings")
upload = st.file_uploader("AVL/GPS file (unit, time, lat, lon)", type=["csv", "parquet"], key="dosage_upload")
path = ui.save_upload(upload, "avl") if upload is not None else None
frame = None
if path is not None:
    try:
        frame = importer.read_table(path)
    except ImportFailed as exc:
        st.error(f"Cannot import this file: {ui.plain(exc)}")
if frame is not None:
    st.dataframe(frame.head(10), key="dosage_preview")
    guess = avl.guess_mapping(frame.columns)
    columns = ["—"] + [str(c) for c in frame.columns]
    with st.form("dosage_mapping"):
        st.markdown("**Column mapping** (all four are required)")
        cols = st.columns(len(avl.FIELDS))
        chosen = {
            name: cols[i].selectbox(
                name,
                columns,
                index=columns.index(str(guess[name])) if guess[name] is not None else 0,
                key=f"dosage_map_{name}",
            )
            for i, name in enumerate(avl.FIELDS)
        }
        date_format = st.text_input("Time format (strftime, blank = detect)", key="dosage_date_format")
        submitted = st.form_submit_button("Import pings", type="primary")
    if submitted:
        mapping = {name: column for name, column in chosen.items() if column != "—"}
        try:
            with st.spinner("Importing…"):
                result = avl.import_file(
                    con, path, mapping, user.username, date_format.strip() or None, reject_dir=path.parent
                )
        except ImportFailed as exc:
            st.error(f"Nothing was imported: {ui.plain(exc)}")
        else:
            reasons = "; ".join(f"{r}: {n:,}" for r, n in result.reasons.items())
            ui.rerun_after_write(
                f"Imported {result.loaded:,} pings of {result.units:,} unit{'s' * (result.units != 1)} "
                f"({result.duplicates:,} already stored, "
                f"{result.rejected:,} rejected{': ' + reasons if reasons else ''})."
            )

approved = plans.list_plans(con)
approved = approved[approved["status"] == "approved"]
if approved.empty:
    st.caption("Synthetic pings are made from approved plans; there is none yet.")
else:
    pick = st.selectbox(
        "Make synthetic pings (labelled synthetic) following an approved plan",
        approved["plan_id"].tolist(),
        format_func=lambda i: (
            f"Plan #{i} — "
            + " ".join(approved.loc[approved["plan_id"] == i, ["plan_date", "shift"]].iloc[0].astype(str))
        ),
        key="dosage_synth_plan",
    )
    if st.button("Make synthetic pings", key="dosage_synth"):
        try:
            plan = plans.load_plan(con, int(pick))
        except PlanError as exc:
            st.error(ui.plain(exc))
        else:
            made = dosage.synthetic_pings(plan)
            source = dosage.synthetic_source(plan.plan_id)
            loaded = avl.save_synthetic(con, made, source, user.username, {"plan": plan.plan_id, "seed": 0})
            st.session_state["dosage_days_next"] = (plan.params.day, plan.params.day + timedelta(days=1))
            ui.rerun_after_write(f"Stored {loaded:,} synthetic pings as {source}.")
