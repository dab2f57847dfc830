"""``areas bench`` on a small world: it reports import and join times and agrees with sjoin."""

import json

import pytest

from crimeviz.bench.areas import bench_areas
from crimeviz.cli.main import main
from crimeviz.store import areas, db
from tests.test_areas import point_store


def test_bench_reports_times_and_the_same_areas_as_sjoin(empty_store):
    con = point_store(empty_store)
    out = bench_areas(con, polygons=300, repeats=1)
    assert (out["polygons"], out["incidents"], out["overlaps_found"]) == (300, 9, 0)
    assert out["same_areas_as_sjoin"] and out["inside"] > 0
    assert out["import_s"] > 0 and out["sjoin_s"] > 0 and out["join_to_sjoin"] > 0
    assert areas.layer_names(con) == []  # the layer went into a scratch copy, not the store


@pytest.mark.parametrize("argv", [["bench", "areas"], ["areas", "bench"]])
def test_bench_areas_prints_json(capsys, tmp_path, argv):
    path = tmp_path / "bench.duckdb"
    point_store(db.connect(path)).close()
    assert main([*argv, "--polygons", "50", "--repeats", "1", "--db", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["polygons"] == 50 and out["incidents"] == 9 and out["same_areas_as_sjoin"]
