"""Saved views: the signed-in user's named share links, to open again or delete."""

import streamlit as st

from crimeviz.store import saved_views
from crimeviz.web import share, ui

user = ui.require("incidents")
st.title("Saved views")
con = ui.connection()
ui.write_notice()
st.caption(
    "A view keeps a page's settings (filters, resolution, layers, chosen cell, date…) as they were in the "
    "address bar, never the data: opened later, it shows the data as they are then. Save one with "
    "'Save this view' in the sidebar of any page; copy the address bar to share a view with a colleague "
    "(they see it after signing in, if their role may use the page)."
)
rows = share.views_table(con, user)
if not rows:
    st.info("You have no saved views yet.")
    st.stop()
for row in rows:
    a, b, c = st.columns([4, 3, 2])
    label = f"{ui.plain(row['name'])} · {row['page']}"
    if row["open"]:
        a.page_link(row["script"], label=label, query_params=row["params"], icon=":material/bookmark:")
    else:
        a.markdown(f"{label} (your role may not open this page)")
    b.caption(f"saved {row['saved']:%Y-%m-%d %H:%M}")
    if c.button("Delete", key=f"view_delete_{row['view_id']}") and saved_views.delete(
        con, user.username, row["view_id"]
    ):
        ui.rerun_after_write(f"Deleted the view {ui.plain(row['name'])}.")
