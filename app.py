"""CrimeViz: crime analytics on the H3 grid. Run with ``streamlit run app.py``."""

import streamlit as st

st.set_page_config(page_title="CrimeViz", layout="wide")

pages = {
    "Incidents": [
        st.Page("pages/map.py", title="Map", icon=":material/map:", default=True),
        st.Page("pages/trends.py", title="Trends", icon=":material/trending_up:"),
        st.Page("pages/hotspots.py", title="Hotspots", icon=":material/local_fire_department:"),
    ],
    "Manage": [
        st.Page("pages/data.py", title="Data", icon=":material/upload_file:"),
    ],
}
st.navigation(pages).run()
