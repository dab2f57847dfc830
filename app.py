"""CrimeViz: crime analytics on the H3 grid. Run with ``streamlit run app.py``."""

import streamlit as st

st.set_page_config(page_title="CrimeViz", page_icon="🗺️", layout="wide")

pages = {
    "Incidents": [
        st.Page("pages/map.py", title="Map", icon="🗺️", default=True),
        st.Page("pages/trends.py", title="Trends", icon="📈"),
        st.Page("pages/hotspots.py", title="Hotspots", icon="🔥"),
    ],
    "Manage": [
        st.Page("pages/data.py", title="Data", icon="📥"),
    ],
}
st.navigation(pages).run()
