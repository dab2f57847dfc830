"""CrimeViz: crime analytics on the H3 grid. Run with ``streamlit run app.py``."""

import streamlit as st

from crimeviz import config
from crimeviz.web import navigation, share, ui

# A local favicon: without one the browser tab shows the page's Material icon, which the browser
# fetches from Google's font server (a request that leaves the machine, and fails offline).
st.set_page_config(page_title="CrimeViz", page_icon=ui.FAVICON, layout="wide")
ui.app_style()
config.limit_torch_threads()

# A store that goes away mid-session (a server restarted) is a message, not a traceback.
with ui.store_errors():
    con = ui.connection()
    user = ui.current_user()
    ui.session_cookie()
    if user is None:
        # Every page's URL leads to the sign-in form (a hidden navigation: no menu before sign-in).
        st.navigation(navigation.signed_out_pages(ui.signed_out), position="hidden")
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
        page = st.navigation(sections, position="top")
        share.follow_page()
        share.save_box(con, user, page.title)
        page.run()
