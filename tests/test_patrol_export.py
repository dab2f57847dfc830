"""Plan exports: the CSV holds every stop; the PDF is a well-formed document that shows the plan."""

import io
import re
import zlib

import pandas as pd
import pytest

from crimeviz.explore import pdf
from crimeviz.patrol import export
from crimeviz.patrol.plan import PlanParams, plan_on_surface
from tests.test_patrol_beats import CENTRE, DAY, random_surface

NAMES = {CENTRE: "Bay Street Corridor"}


@pytest.fixture(scope="module")
def plan():
    return plan_on_surface(PlanParams(DAY, units=3, max_cells=6), random_surface(2), created_by="Sgt. Łukasz Ñúñez")


def pdf_text(data: bytes) -> str:
    """Every content stream of a PDF, inflated, as latin-1 text."""
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S)
    out = []
    for raw in streams:
        try:
            out.append(zlib.decompress(raw).decode("latin-1"))
        except zlib.error:
            out.append(raw.decode("latin-1"))
    return "\n".join(out)


def test_csv_lists_every_stop_in_order(plan):
    frame = pd.read_csv(io.StringIO(export.plan_csv(plan, NAMES)))
    assert len(frame) == len(plan.cell_list())
    assert frame["cell"].tolist() == plan.cell_list()
    assert set(frame.columns) >= {"unit", "stop", "cell", "neighbourhood", "lat", "lon", "expected incidents"}
    assert frame["date"].unique().tolist() == [DAY.isoformat()]
    assert frame["expected incidents"].sum() == pytest.approx(plan.covered, abs=0.01)


def test_pdf_has_an_overview_page_and_a_page_per_unit(plan):
    data = export.plan_pdf(plan, NAMES, [])
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type /Page\b", data)) == 1 + len(plan.beats)


def test_pdf_without_a_unicode_font_still_shows_the_plan(plan, monkeypatch, tmp_path):
    monkeypatch.setattr(pdf, "DEJAVU", tmp_path)  # no fonts here: core Helvetica, latin-1
    text = pdf_text(export.plan_pdf(plan, NAMES, [])).replace("\\", "")
    assert "Patrol plan (not saved) - Tuesday 01 June 2021, evening 15:00-23:00" in text
    assert "Sgt. ?ukasz Ñúñez" in text  # outside latin-1 becomes "?"
    for beat in plan.beats:
        assert f"Unit {beat.unit} " in text
        assert all(cell in text for cell in beat.cells)
