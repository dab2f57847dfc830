"""The shared CSV writer: formula-like text is neutralised, numbers and plain text are kept."""

import io

import pandas as pd

from crimeviz.store import safe_csv


def test_formula_starts_are_prefixed_with_a_quote():
    frame = pd.DataFrame(
        {
            "text": ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tcmd", "\rcmd", "Assault", ""],
            "count": [1, -2, 3, 4, 5, 6, 7, 8],
        }
    )
    back = pd.read_csv(io.BytesIO(safe_csv.to_csv_bytes(frame)), dtype={"text": str}, keep_default_na=False)
    assert back["text"].tolist() == [
        "'=HYPERLINK(\"http://x\")",
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "'\tcmd",
        "'\rcmd",
        "Assault",
        "",
    ]
    assert back["count"].tolist() == [1, -2, 3, 4, 5, 6, 7, 8]


def test_neutralise_leaves_the_input_alone_and_covers_column_names():
    frame = pd.DataFrame({"=a": ["=1"], "b": [None]})
    out = safe_csv.neutralise(frame)
    assert list(out.columns) == ["'=a", "b"]
    assert out.iloc[0, 0] == "'=1" and out.iloc[0, 1] is None
    assert frame.iloc[0, 0] == "=1"


def test_a_csv_read_back_for_training_gets_its_text_unchanged(tmp_path):
    frame = pd.DataFrame({"sequence": ["-walk", "=odd", "'quoted", "plain"], "sea_class": [1, 2, 3, 4]})
    path = tmp_path / "labels.csv"
    path.write_bytes(safe_csv.to_csv_bytes(frame))
    assert "'-walk" in path.read_text()  # neutralised on disk, for whoever opens it in a spreadsheet
    back = safe_csv.read_csv(path)
    assert back["sequence"].tolist() == ["-walk", "=odd", "'quoted", "plain"]
    assert back["sea_class"].tolist() == [1, 2, 3, 4]
