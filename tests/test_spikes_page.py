"""The Map's spike layer through streamlit.testing, on the Toronto store."""

from datetime import date

from crimeviz.explore import spikes
from crimeviz.store import areas, db
from crimeviz.store.filters import IncidentFilter
from tests.test_pages import deck_specs, page

SPIKES = "Spikes (last 7 days)"


def test_spike_layer_draws_the_cells_the_library_finds(app_db):
    at = page("map", "analyst")
    at.session_state["f_dates"] = (date(2021, 1, 1), date(2021, 9, 23))
    at.run()
    at.multiselect(key="map_layers").set_value(["Hexagons", SPIKES]).run()
    assert not at.exception and not at.error
    f = IncidentFilter(date(2021, 1, 1), date(2021, 9, 23))
    con = db.connect(app_db)
    expected = spikes.cell_spikes(con, f, f.end, 8)
    by_area = spikes.area_spikes(con, f, f.end, areas.DEFAULT_LAYER)
    con.close()
    drawn = {layer["id"]: layer for layer in deck_specs(at)[0]["layers"]}
    assert {h["cell"] for h in drawn["spike-cells"]["data"]} == set(expected.loc[expected["spike"], "cell"]) != set()
    assert all(h["tooltip"].startswith("Spike (last 7 days): ") for h in drawn["spike-cells"]["data"])
    named = by_area.loc[by_area["spike"], "area"].tolist()
    tips = [feat["properties"]["tooltip"] for feat in drawn["spike-areas"]["data"]["features"]]
    assert named and sorted(t.split("\n")[0] for t in tips) == sorted(f"Spike area (last 7 days): {a}" for a in named)
    n = int(expected["spike"].sum())
    line = next(c.value for c in at.caption if c.value.startswith(f"{n} spike cell"))
    assert "17 Sep – 23 Sep 2021" in line and f"{len(named)} of the " in line and named[0] in line


def test_no_spike_is_said_in_words(app_db):
    at = page("map", "analyst")
    at.session_state["f_dates"] = (date(2021, 1, 1), date(2021, 9, 30))
    at.session_state["map_layers"] = ["Hexagons", SPIKES]
    at.run()
    assert not at.exception
    assert "spike-cells" not in [layer["id"] for layer in deck_specs(at)[0]["layers"]]
    assert any(c.value.startswith("No spike among ") for c in at.caption)
