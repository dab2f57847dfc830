"""CrimeViz: crime analytics on the H3 grid. Run with ``streamlit run app.py``."""

import streamlit as st

from crimeviz import config
from crimeviz.web import navigation, ui

st.set_page_config(page_title="CrimeViz", layout="wide")
ui.app_style()
config.limit_torch_threads()

con = ui.connection()
user = ui.current_user()
if user is None:
    # A hidden one-page navigation keeps Streamlit from building a menu of its own; the form
    # shows whatever the URL names. (A deep link to a page script meets that page's own check.)
    st.navigation([st.Page(ui.signed_out, title="Sign in", url_path="signin")], position="hidden")
    ui.sign_in_form(con)
    st.stop()

ui.account_box(con, user)
sections = {
    section: [st.Page(script, title=title, icon=icon) for script, title, icon in pages]
    for section, pages in navigation.visible(user).items()
}
if not sections:
    st.info(f"The {user.role} role has no pages in this installation.")
    st.stop()
with ui.timed_run(user):
    st.navigation(sections, position="top").run()
