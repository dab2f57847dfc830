"""pydeck layers: offline by default, stable ids, escaped tooltips."""

import json

import h3
import numpy as np
import pandas as pd
import pytest

from crimeviz.explore import maps


def test_tooltips_are_plain_text_never_html():
    frame = pd.DataFrame({"name": ["<img src=x onerror=alert(1)>"], "n": [3]})
    assert maps.tooltip_rows(frame, {"Name": "name", "Incidents": "n"}) == [
        "Name: <img src=x onerror=alert(1)>\nIncidents: 3"
    ]
    # The page-level check that the deck's tooltip is {"text": ...} is in test_pages.


def test_offline_deck_requests_nothing_external():
    counts = pd.DataFrame({"cell": ["882b9bc717fffff", "882b9bc713fffff"], "n": [5, 1]})
    layer, legend = maps.count_layer(counts)
    spec = json.loads(maps.deck([layer], maps.view_for((43.59, 43.83, -79.62, -79.14))).to_json())
    text = json.dumps(spec)
    assert "http" not in text and spec.get("mapProvider") in (None, "")
    assert spec["layers"][0]["id"] == "incident-hexes"
    assert spec["layers"][0]["data"][0]["cell"] == "882b9bc717fffff"
    assert len(legend) >= 1


def test_colour_classes_follow_the_legend():
    values = [1, 2, 3, 10, 50, 100]
    breaks = maps.class_breaks(values)
    colours = maps.colours_for(values, breaks)
    assert colours[0][:3] == list(maps.RAMP[0]) and colours[-1][:3] == list(maps.RAMP[-1])
    assert len(maps.legend(breaks, "incidents")) == len(breaks)


def test_view_fits_the_bounds():
    wide = maps.view_for((43.59, 43.83, -79.62, -79.14))
    narrow = maps.view_for((43.70, 43.71, -79.40, -79.39))
    assert wide.latitude == pytest.approx(43.71) and wide.longitude == pytest.approx(-79.38)
    assert 9 < wide.zoom < 11 and narrow.zoom > wide.zoom + 4


def test_deck_json_is_compact_and_outlines_are_rounded_to_a_metre():
    import h3

    cells = [h3.latlng_to_cell(43.70, -79.40, 8), h3.latlng_to_cell(43.75, -79.30, 8)]
    hoods = maps.neighbourhood_layer(pd.DataFrame({"name": ["A", "B"], "cell": cells}))
    deck = maps.deck(
        [maps.outline_layer([h3.str_to_int(c) for c in cells]), hoods], maps.view_for((43.59, 43.83, -79.62, -79.14))
    )
    text = deck.to_json()
    assert "\n" not in text and ", " not in text  # pydeck's own JSON is indented: twice the bytes
    outline, boundaries = json.loads(text)["layers"]
    for feature in outline["data"]["features"]:
        ring = feature["geometry"]["coordinates"][0]
        ring = ring[0] if feature["geometry"]["type"] == "MultiPolygon" else ring
        assert all(round(x, 5) == x for point in ring for x in point) and len(ring) >= 7
    points = [point for segment in boundaries["data"] for point in (segment["s"], segment["t"])]
    assert len(boundaries["data"]) == 12 and all(round(x, 5) == x for point in points for x in point)


def edges(segments) -> set:
    return {frozenset((tuple(s["s"]), tuple(s["t"]))) for s in segments}


def test_neighbourhood_boundaries_are_drawn_once_and_only_between_neighbourhoods():
    import h3

    centre = h3.latlng_to_cell(43.70, -79.40, 8)
    ring = sorted(h3.grid_ring(centre, 1))
    alone = maps.boundary_segments(pd.DataFrame({"name": ["A"], "cell": [centre]}))
    assert len(alone) == len(edges(alone)) == 6  # an isolated cell: its six edges
    same = maps.boundary_segments(pd.DataFrame({"name": ["A", "A"], "cell": [centre, ring[0]]}))
    apart = maps.boundary_segments(pd.DataFrame({"name": ["A", "B"], "cell": [centre, ring[0]]}))
    assert len(same) == 10  # two cells of one neighbourhood: the outline of the pair
    assert len(apart) == len(edges(apart)) == 11  # ... of two neighbourhoods: plus their shared edge, once
    assert edges(apart) - edges(same) == edges(alone) & edges(
        maps.boundary_segments(pd.DataFrame({"name": ["B"], "cell": [ring[0]]}))
    )


def test_hex_tooltips_name_the_neighbourhood_when_known():
    counts = pd.DataFrame({"cell": ["882b9bc717fffff", "882b9bc713fffff"], "n": [5, 1]})
    layer, _ = maps.count_layer(counts, {"882b9bc717fffff": "Annex <b>"})
    assert [row["tooltip"] for row in layer.data] == [
        "Neighbourhood: Annex <b>\nCell: 882b9bc717fffff\nIncidents: 5",
        "Neighbourhood: (none recorded)\nCell: 882b9bc713fffff\nIncidents: 1",
    ]
    assert list(layer.data[0]) == ["cell", "n", "color", "tooltip"]


def legend_labels(values) -> list[str]:
    return [label for label, _ in maps.legend(maps.class_breaks(values), "incidents", values=values)]


@pytest.mark.parametrize(
    ("values", "labels"),
    [
        ([1] * 40 + [16], ["1 incident", "16 incidents"]),
        ([3] * 12, ["3 incidents"]),
        ([1] * 20 + [2] * 5, ["1 incident", "2 incidents"]),
        (
            [1, 1, 2, 2, 3, 4, 5, 7, 9, 12, 15, 30],
            [
                "1 incident",
                "2 incidents",
                "3 – 4 incidents",
                "5 – 7 incidents",
                "9 – 12 incidents",
                "15 – 30 incidents",
            ],
        ),
    ],
)
def test_legend_classes_on_sparse_counts_are_unique_and_do_not_overlap(values, labels):
    assert legend_labels(values) == labels


def test_every_count_gets_the_colour_of_the_class_its_label_names():
    values = np.array([1] * 40 + [2, 2, 5, 16])
    breaks = maps.class_breaks(values)
    colours = ["rgb({},{},{})".format(*c[:3]) for c in maps.colours_for(values, breaks)]
    legend = dict(maps.legend(breaks, "incidents", values=values))
    assert list(legend) == ["1 incident", "2 – 16 incidents"]
    assert {colours[i] for i in range(40)} == {legend["1 incident"]}
    assert set(colours[40:]) == {legend["2 – 16 incidents"]}


def test_legend_without_values_reads_up_to_and_over():
    labels = [label for label, _ in maps.legend(np.array([0.5, 1.25]), "expected", "{:.2f}")]
    assert labels == ["up to 0.50 expected", "over 0.50 to 1.25 expected"]


def test_view_shows_every_cell_of_the_city_in_the_map_streamlit_draws():
    """The bounds hold the central 99.8% of incidents; the cells drawn at their edges reach beyond."""
    rng = np.random.default_rng(0)
    lat, lon = rng.uniform(43.59, 43.83, 3000), rng.uniform(-79.62, -79.14, 3000)
    bounds = (*np.quantile(lat, [0.001, 0.999]), *np.quantile(lon, [0.001, 0.999]))
    cells = {h3.latlng_to_cell(a, b, 7) for a, b in zip(lat, lon)}
    corners = np.array([p for c in cells for p in h3.cell_to_boundary(c)])
    for width in (700, 1000):
        view = maps.view_for(bounds)
        scale = 512 * 2**view.zoom  # pixels across the web-mercator world
        x = (corners[:, 1] - view.longitude) / 360 * scale
        y = (maps._mercator_y(corners[:, 0]) - maps._mercator_y(view.latitude)) * scale
        assert np.abs(x).max() < width / 2 and np.abs(y).max() < maps.MAP_HEIGHT_PX / 2


def test_map_legend_on_sparse_counts_names_each_class_once():
    cells = sorted(h3.grid_disk(h3.latlng_to_cell(43.70, -79.40, 8), 2))
    counts = pd.DataFrame({"cell": cells, "n": [1] * (len(cells) - 1) + [16]})
    _, legend = maps.count_layer(counts)
    assert [label for label, _ in legend] == ["1 incident", "16 incidents"]
