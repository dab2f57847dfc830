"""The Map's spike layer through streamlit.testing, on the Toronto store."""

from datetime import date

from crimeviz.explore import spikes
from crimeviz.store import db
from crimeviz.store.filters import IncidentFilter
from tests.test_pages import deck_specs, page

SPIKES = "Spikes (last 7 days)"


def test_spike_layer_draws_the_cells_the_library_finds(app_db):
    at = page("map", "analyst")
    at.session_state["f_dates"] = (date(2021, 1, 1), date(2021, 9, 23))
    at.run()
    at.multiselect(key="map_layers").set_value(["Hexagons", SPIKES]).run()
    assert not at.exception and not at.error
    con = db.connect(app_db)
    expected = spikes.cell_spikes(con, IncidentFilter(date(2021, 1, 1), date(2021, 9, 23)), date(2021, 9, 23), 8)
    con.close()
    layer = next(layer for layer in deck_specs(at)[0]["layers"] if layer["id"] == "spike-cells")
    assert {h["cell"] for h in layer["data"]} == set(expected.loc[expected["spike"], "cell"]) != set()
    assert all(h["tooltip"].startswith("Spike (last 7 days): ") for h in layer["data"])
    n = int(expected["spike"].sum())
    assert any(c.value.startswith(f"{n} spike cell") and "17 Sep – 23 Sep 2021" in c.value for c in at.caption)


def test_no_spike_is_said_in_words(app_db):
    at = page("map", "analyst")
    at.session_state["f_dates"] = (date(2021, 1, 1), date(2021, 9, 30))
    at.session_state["map_layers"] = ["Hexagons", SPIKES]
    at.run()
    assert not at.exception
    assert "spike-cells" not in [layer["id"] for layer in deck_specs(at)[0]["layers"]]
    assert any(c.value.startswith("No spike among ") for c in at.caption)
