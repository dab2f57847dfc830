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


def leaflet_view(source) -> bool:
    """Whether the Map shows a Leaflet tab: with internet tiles only (the unit's own tiles are drawn under
    the deck.gl map, and embedding them in a Leaflet view on every rerun would cost megabytes)."""
    return source == "carto" or getattr(source, "kind", None) == "url"


def map_caption(source) -> str:
    """What the Map says about its basemap when it shows no Leaflet tab."""
    if getattr(source, "kind", None) == "local":
        return (
            f"Basemap tiles served by this app (zoom {source.minzoom}–{source.maxzoom}; "
            f"{ui.plain(source.attribution) or 'no attribution given'}). The Leaflet download embeds them."
        )
    return (
        "Offline map: city outline and neighbourhood boundaries derived from the data (hover a hexagon for its "
        "neighbourhood), no basemap tiles: an administrator can import the unit's own tiles "
        "(`python -m crimeviz basemap import FILE.mbtiles`), or set CRIMEVIZ_BASEMAP=carto for a CARTO basemap "
        "and a Leaflet view with OpenStreetMap tiles when online. The Leaflet download has no tiles either."
    )
