"""Data: what the store holds, and import of any city's incidents from CSV or Parquet."""

from datetime import date
from pathlib import Path

import streamlit as st

from crimeviz.store import batches, counts, importer
from crimeviz.web import ui

MAX_MB = 200
SHOWN_BATCHES = 200  # the newest; `python -m crimeviz imports list` gives them all

user = ui.require("data")
st.title("Data")
con = ui.connection()
st.subheader("In the database")
st.dataframe(
    counts.sources(con),
    hide_index=True,
    key="sources",
)
ui.write_notice()
st.subheader("Import batches")
st.caption(
    "Every import is a batch: incidents added, updated (the old version kept), unchanged and removed "
    "(withdrawn cases). An administrator can undo the last batch: the incidents are then exactly as before it."
)
imports = batches.table(con, limit=SHOWN_BATCHES)
st.dataframe(
    imports,
    hide_index=True,
    key="batches",
    column_config={
        "imported_at": "imported at",
        "file_name": "file",
        "username": "by",
        "undone_at": "undone at",
        "undone_by": "undone by",
    },
)
last = batches.last_batch(con)
if user.role == "admin" and last is not None:
    if st.button("Undo last import", key="undo_ask"):
        st.session_state["undo_batch"] = last
    if (batch := st.session_state.get("undo_batch")) is not None:
        listed = imports if batch in set(imports["batch"]) else batches.table(con)
        row = listed[listed["batch"] == batch].fillna({"updated": 0, "removed": 0}).iloc[0]
        st.warning(
            f"Undo batch {batch} ({ui.plain(row['file_name'] or row['source'])}, {row['imported_at']:%Y-%m-%d %H:%M}, "
            f"by {ui.plain(row['username'] or 'unknown')})? Its {int(row['added']):,} added incidents are deleted; the "
            f"{int(row['updated']):,} versions it replaced and the {int(row['removed']):,} cases it removed are put back."
        )
        yes, no, _ = st.columns([1, 1, 3])
        if yes.button(f"Yes, undo batch {batch}", key="undo_confirm", type="primary"):
            st.session_state.pop("undo_batch", None)
            try:
                done = batches.undo(con, user.username, batch)
            except batches.UndoRefused as exc:
                st.error(f"Nothing was undone: {ui.plain(exc)}")
            else:
                ui.rerun_after_write(
                    f"Batch {batch} undone: {done['deleted']:,} incidents deleted, {done['restored']:,} earlier "
                    f"versions and {done['put_back']:,} removed cases put back."
                )
        if no.button("Cancel", key="undo_cancel"):
            st.session_state.pop("undo_batch", None)
            st.rerun()

st.subheader("Import incidents")
st.markdown(
    "Upload a CSV or Parquet file with one row per incident, then say which column holds what. "
    "Rows with missing or invalid coordinates, dates or offences are rejected and listed; the rest "
    "load in one transaction, and rows already in the database are skipped. With a case id column, a "
    "case already stored is replaced by its new version, and a status such as "
    "unfounded, deleted, void or cancelled removes it."
)
upload = st.file_uploader("Incident file", type=["csv", "parquet"], key="upload", max_upload_size=MAX_MB)
if upload is None:
    st.stop()

path = ui.save_upload(upload, "import")
if path is None:
    st.stop()
work = path.parent
try:
    frame = importer.read_table(path)
except importer.ImportFailed as exc:
    st.error(f"Cannot import this file: {ui.plain(exc)}")
    st.stop()

st.markdown(f"**Preview** — {len(frame):,} rows, {len(frame.columns)} columns")
st.dataframe(frame.head(20), key="preview")
guess = importer.guess_mapping(frame.columns)
columns = ["—"] + [str(c) for c in frame.columns]
with st.form("mapping"):
    st.markdown("**Column mapping** (fields marked * are required)")
    cols = st.columns(3)
    chosen = {}
    for i, field in enumerate(importer.REQUIRED + importer.OPTIONAL):
        label = f"{field} *" if field in importer.REQUIRED else field
        default = columns.index(str(guess[field])) if guess[field] is not None else 0
        chosen[field] = cols[i % 3].selectbox(label, columns, index=default, key=f"map_{field}")
    date_format = st.text_input(
        "Date format (strftime, blank = detect)", key="date_format", placeholder="e.g. %m/%d/%Y %I:%M:%S %p"
    )
    source = st.text_input(
        "Source name (keep it the same for every export of one system, so cases are matched)",
        value=path.stem,
        key="source",
    )
    a, b, c = st.columns(3)
    earliest = a.date_input("Reject dates before", importer.EARLIEST, date(1800, 1, 1), key="earliest")
    timezone = b.text_input("Time zone for dates with UTC offsets", importer.local_timezone(), key="timezone")
    area = c.text_input("Expected area (S,W,N,E)", key="area", placeholder="blank: the store's extent")
    reject_outside = st.checkbox("Reject rows outside the area (default: import them and list them)", key="far")
    submitted = st.form_submit_button("Import", type="primary", key="import_submit")

if submitted:
    mapping = {k: v for k, v in chosen.items() if v != "—"}
    try:
        importer.check_mapping(mapping, frame.columns)
        checks = importer.Checks(
            earliest,
            timezone.strip() or importer.local_timezone(),
            importer.Area.parse(area) if area.strip() else None,
            reject_outside,
        )
        with st.spinner("Importing…"):
            result = importer.import_file(
                con,
                path,
                mapping,
                user.username,
                date_format.strip() or None,
                source.strip() or path.stem,
                reject_dir=work,
                checks=checks,
            )
    except importer.ImportFailed as exc:
        st.error(f"Nothing was imported: {ui.plain(exc)}")
    else:
        st.session_state["import_result"] = (upload.name, result)
        st.rerun()  # the tables above show the import

if done := st.session_state.pop("import_result", None):
    name, result = done
    changed = result.counts
    st.success(
        f"Imported {result.loaded:,} new incidents from {ui.plain(name)} as batch {changed.batch} "
        f"({changed.updated:,} updated, {result.duplicates:,} already in the database unchanged, "
        f"{changed.removed:,} removed, {result.rejected:,} rejected; dates read as {result.date_format})."
    )
    if changed.not_found:
        st.info(f"{changed.not_found:,} rows withdraw cases the database does not hold; nothing to remove for them.")
    if result.timezone_note:
        st.info(f"Dates carried UTC offsets: {result.timezone_note}.")
    if far := result.outside:
        verb = "were rejected: they" if far["rejected"] else "were imported but"
        st.warning(f"{far['count']:,} rows {verb} lie outside the expected area {far['area']}. Examples:")
        st.dataframe(far["examples"], key="outside_examples")
    if result.rejected:
        reasons = "; ".join(f"{reason}: {count:,}" for reason, count in result.reasons.items())
        st.warning(f"{result.rejected:,} rows were rejected ({reasons}). Examples:")
        st.dataframe(result.examples, key="reject_examples")
        st.download_button(
            "Download all rejected rows (CSV)",
            Path(result.reject_file).read_bytes(),
            Path(result.reject_file).name,
            "text/csv",
            key="reject_download",
        )
