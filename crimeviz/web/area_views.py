"""Streamlit glue for analysis by area: the choropleth's controls and the cached outlines of a layer.

Only widget code and caching live here; counts come from ``crimeviz.store.areas`` and the layer
and its legend from ``crimeviz.explore.area_maps``.
"""

import streamlit as st

from crimeviz import config
from crimeviz.explore import area_maps, maps
from crimeviz.store import areas, queries
from crimeviz.store.filters import IncidentFilter
from crimeviz.web import ui


@st.cache_data(show_spinner=False, max_entries=8)
def _features(path: str, version: int, layer: str) -> list[dict]:
    return areas.features(ui.connection(), layer)


def features(con, layer: str) -> list[dict]:
    """``layer``'s outlines as GeoJSON features (cached until the data or the layers change)."""
    return _features(str(config.db_path()), ui.data_version(con), layer)


def layer_choice(con, label: str, key: str, prefer: str | None = None) -> str | None:
    """A select box of the area layers (``prefer`` first chosen, else the default layer); None if there are none."""
    layers = list(ui.area_catalogue(con))
    if not layers:
        return None
    first = prefer if prefer in layers else areas.DEFAULT_LAYER if areas.DEFAULT_LAYER in layers else layers[0]
    return st.selectbox(label, layers, index=layers.index(first), key=key)


def derived_note(layer: str) -> str | None:
    """The caption that says a layer is derived from the incidents, not official boundaries."""
    if layer != areas.DEFAULT_LAYER:
        return None
    return (
        "The neighbourhoods of this layer are derived from the incidents, not official boundaries: "
        "each is the H3 cells (resolution 8) where most incidents name it."
    )


def choropleth(con, f: IncidentFilter, key: str = "map_area"):
    """Controls (layer, measure) and the choropleth of ``f`` per area; ``(layer, legend_html, caption)``,
    or None when the store has no area layer. Areas the filter leaves out (when it picks areas of
    the same layer) are outlined but not coloured."""
    a, b = st.columns([2, 3])
    with a:
        layer = layer_choice(con, "Area layer", f"{key}_layer", f.area_layer)
    if layer is None:
        st.info("No area layers yet: an administrator imports them on the Areas page.")
        return None
    measure = b.radio(
        "Colour by", list(area_maps.MEASURES), format_func=area_maps.MEASURES.get, horizontal=True, key=f"{key}_by"
    )
    table = areas.change(con, layer, f)
    if f.area_layer == layer and f.areas:
        table = table[table["name"].isin(f.areas)]
    deck_layer, legend = area_maps.choropleth(features(con, layer), table, measure)
    before = areas.previous_period(f)
    caption = (
        f"Previous period: {queries.period_label(before.start, before.end)}, as long as the filter's. "
        "Classes: quantiles (mapclassify); for the change, quantiles of the rises and of the falls. "
        "Hover an area for its counts."
    )
    if note := derived_note(layer):
        caption += " " + note
    title = f"{area_maps.MEASURES[measure]} per area of {layer}"
    return deck_layer, maps.legend_html(legend, title), caption


def area_picker(con, key: str, label: str, help: str | None = None) -> tuple[str | None, tuple[str, ...] | None]:
    """A layer and some of its areas (``key``: the areas' widget key, ``key + "_layer"`` the layer's);
    ``(layer, None)`` while no area is picked, ``(None, None)`` when the store has no area layer."""
    catalogue = ui.area_catalogue(con)
    if not catalogue:
        return None, None
    a, b = st.columns([1, 2])
    with a:
        layer = layer_choice(con, "Area layer", f"{key}_layer")
    st.session_state[key] = [n for n in st.session_state.get(key, []) if n in catalogue[layer]]
    names = b.multiselect(label, catalogue[layer], key=key, placeholder="The whole city", help=help)
    return layer, tuple(names) or None
