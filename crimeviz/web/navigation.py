"""The app's pages and who may see them (``app.py`` builds ``st.navigation`` from this)."""

from pathlib import Path

import streamlit as st

from crimeviz.access.auth import User

# (section, script, title, icon, permission); every page checks the permission again itself.
PAGES = [
    ("Incidents", "app_pages/map.py", "Map", ":material/map:", "incidents"),
    ("Incidents", "app_pages/trends.py", "Trends", ":material/trending_up:", "incidents"),
    ("Incidents", "app_pages/hotspots.py", "Hotspots", ":material/local_fire_department:", "incidents"),
    ("Incidents", "app_pages/near_repeat.py", "Near repeats", ":material/repeat:", "incidents"),
    ("Incidents", "app_pages/emerging.py", "Emerging hot spots", ":material/whatshot:", "incidents"),
    ("Incidents", "app_pages/bulletin.py", "Bulletin", ":material/picture_as_pdf:", "incidents"),
    ("Incidents", "app_pages/areas.py", "Areas", ":material/pentagon:", "incidents"),
    ("Incidents", "app_pages/saved_views.py", "Saved views", ":material/bookmarks:", "incidents"),
    ("Video & imagery", "app_pages/streetview.py", "Street view", ":material/photo_camera:", "streetview"),
    ("Video & imagery", "app_pages/cctv.py", "CCTV review", ":material/videocam:", "cctv"),
    ("Video & imagery", "app_pages/live.py", "Live cameras", ":material/live_tv:", "cctv"),
    ("Forecasts & patrol", "app_pages/forecast.py", "Forecast", ":material/query_stats:", "forecasts"),
    ("Forecasts & patrol", "app_pages/patrol.py", "Patrol plans", ":material/local_police:", "patrol"),
    ("Forecasts & patrol", "app_pages/dosage.py", "Patrol dosage", ":material/timer:", "patrol"),
    ("Manage", "app_pages/data.py", "Data", ":material/upload_file:", "data"),
    ("Manage", "app_pages/basemap.py", "Basemap", ":material/layers:", "data"),
    ("Manage", "app_pages/admin.py", "Users & audit", ":material/admin_panel_settings:", "users"),
]


def visible(user: User) -> dict[str, list[tuple[str, str, str]]]:
    """{section: [(script, title, icon), …]} of the pages ``user``'s role may use, in menu order."""
    sections: dict[str, list] = {}
    for section, script, title, icon, permission in PAGES:
        if user.may(permission):
            sections.setdefault(section, []).append((script, title, icon))
    return sections


def signed_out_pages(form) -> list:
    """A sign-in page at the root and every page's URL, all showing ``form`` (the sign-in form): a
    reload, bookmark or link while signed out finds its page, and after sign-in Streamlit opens
    that page (same URL, same page hash) when the role may use it, else the role's first page."""
    return [st.Page(form, title="Sign in", url_path="signin", default=True)] + [
        st.Page(form, title=title, icon=icon, url_path=Path(script).stem) for _, script, title, icon, _ in PAGES
    ]
