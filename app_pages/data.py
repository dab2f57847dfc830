"""Data: what the store holds, and import of any city's incidents from CSV or Parquet."""

from datetime import date
from pathlib import Path

import streamlit as st

from crimeviz.store import counts, importer
from crimeviz.web import ui

MAX_MB = 200

user = ui.require("data")
st.title("Data")
con = ui.connection()
st.subheader("In the database")
st.dataframe(
    counts.sources(con),
    hide_index=True,
    key="sources",
)
with st.expander("Import history"):
    st.dataframe(con.execute("SELECT * FROM imports ORDER BY import_id DESC").df(), hide_index=True)

st.subheader("Import incidents")
st.markdown(
    "Upload a CSV or Parquet file with one row per incident, then say which column holds what. "
    "Rows with missing or invalid coordinates, dates or offences are rejected and listed; the rest "
    "load in one transaction, and rows already in the database are skipped."
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
    source = st.text_input("Source name", value=path.stem, key="source")
    a, b, c = st.columns(3)
    earliest = a.date_input("Reject dates before", importer.EARLIEST, date(1800, 1, 1), key="earliest")
    timezone = b.text_input("Time zone for dates with UTC offsets", importer.local_timezone(), key="timezone")
    area = c.text_input("Expected area (S,W,N,E)", key="area", placeholder="blank: the store's extent")
    reject_outside = st.checkbox("Reject rows outside the area (default: import them and list them)", key="far")
    submitted = st.form_submit_button("Import", type="primary")

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
    st.success(
        f"Imported {result.loaded:,} new incidents from {ui.plain(name)} "
        f"({result.duplicates:,} already in the database, {result.rejected:,} rejected; "
        f"dates read as {result.date_format})."
    )
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
