"""The downloadable Leaflet map: hexagons, and tiles only when online."""

import re
import warnings

import pandas as pd

from crimeviz.explore import leaflet

COUNTS = pd.DataFrame({"cell": ["882b9bc0a7fffff", "882b9bc0a3fffff"], "n": [12, 3]})
BOUNDS = (43.6, 43.7, -79.5, -79.3)


def test_offline_map_has_hexagons_and_no_tiles():
    page = leaflet.folium_map(COUNTS, BOUNDS, "none").get_root().render()
    for feature in leaflet.hex_features(COUNTS)["features"]:
        assert feature["properties"]["cell"] in page and feature["properties"]["colour"] in page
    assert "L.tileLayer(" not in page and "basemaps" not in page  # nothing is fetched offline
    assert not re.findall(r"<(?:script|link)[^>]*(?:src|href)=", page)  # Leaflet is inlined, not linked
    assert "L.map(" in page and "leaflet-container" in page and "jsdelivr" not in page and "cdnjs" not in page


def test_online_map_uses_tiles_that_need_no_key():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. folium's "CartoDB tiles now require an API key"
        page = leaflet.folium_map(COUNTS, BOUNDS, "carto").get_root().render()
    assert "https://tile.openstreetmap.org/{z}/{x}/{y}.png" in page
    assert "OpenStreetMap" in page  # the attribution the tiles' licence asks for
    assert "apikey" not in page.lower()
