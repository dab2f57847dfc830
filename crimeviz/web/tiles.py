"""The basemap every map draws: the unit's stored tiles, an internet tile URL an administrator
enabled (with its notice), or ``config.basemap()`` when neither is on (no tiles by default)."""

import streamlit as st

from crimeviz import config
from crimeviz.store import basemap as stored
from crimeviz.web import ui


def basemap(con):
    """What to pass as ``basemap`` to ``explore.maps.deck`` and ``explore.leaflet.folium_map``; shows the
    notice where the maps fetch tiles from the internet (call it just before the map)."""
    source = stored.active(con)
    if source is None:
        return config.basemap()
    if source.notice:
        st.caption(":material/public: " + ui.plain(source.notice))
    return source
