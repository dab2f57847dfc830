"""The shared report document: running header and footer, tables, image rows, core-font fallback."""

import re

import cv2
import numpy as np

from crimeviz.explore import pdf
from tests.test_patrol_export import pdf_text as raw_text


def pdf_text(data: bytes) -> str:
    """The PDF's text with runs that fpdf2 splits around the page-count alias joined again."""
    return raw_text(data).replace(") Tj (", "")


def jpeg(colour) -> bytes:
    return cv2.imencode(".jpg", np.full((60, 80, 3), colour, np.uint8))[1].tobytes()


def test_every_page_is_footed_with_the_title_and_its_number(tmp_path):
    doc = pdf.Document("Report – Straße 7", "Łukasz", font_dir=tmp_path)  # no fonts here: core Helvetica
    doc.heading("First page")
    doc.add_page()
    doc.paragraph("Second page")
    text = pdf_text(doc.to_bytes())
    assert "page 1 of 2" in text and "page 2 of 2" in text
    assert text.count("Report - Straße 7") == 3  # both footers and the second page's header


def test_tables_and_image_rows_flow_onto_new_pages(tmp_path):
    doc = pdf.Document("Long report", font_dir=tmp_path)
    doc.data_table(["#", "name"], [[i, f"row {i}"] for i in range(1, 81)], [10, 40])
    doc.image_row([jpeg((0, 0, 200)), jpeg((0, 200, 0)), jpeg((200, 0, 0)), jpeg((90, 90, 90))], list("abcd"))
    data = doc.to_bytes()
    text = pdf_text(data)
    assert all(f"row {i})" in text for i in (1, 80)) and "(name)" in text
    assert len(re.findall(rb"/Subtype /Image", data)) == 4
    pages = len(re.findall(rb"/Type /Page\b", data))
    assert pages >= 2 and f"page {pages} of {pages}" in text


def test_unicode_font_keeps_any_text():
    doc = pdf.Document("Отчёт ✓")
    assert doc.unicode and doc.text_safe("Łódź — ✓") == "Łódź — ✓"
    assert pdf.Document("x", font_dir=pdf.DEJAVU / "missing").text_safe("Łódź — ✓") == "?ód? - ?"
