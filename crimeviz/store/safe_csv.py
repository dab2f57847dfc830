"""CSV for spreadsheets: text cells that a spreadsheet would run as a formula are neutralised.

OWASP, "CSV Injection": a cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return is
read as a formula by Excel, LibreOffice and Google Sheets; prefixing it with a single quote makes
it text. Numbers (numeric columns) are written as they are.
"""

from __future__ import annotations

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _neutral_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (and column names) cannot start a formula."""
    out = frame.copy()
    for column in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[column]) or pd.api.types.is_datetime64_any_dtype(out[column])):
            out[column] = out[column].map(_neutral_cell)
    out.columns = [_neutral_cell(c) for c in out.columns]
    return out


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV (no index, CRLF rows as RFC 4180 has it) of ``frame`` with every text cell neutralised.

    With CRLF as the row end, a cell holding a bare CR or LF is quoted, so it stays one cell.
    """
    return neutralise(frame).to_csv(index=False, lineterminator="\r\n").encode("utf-8")


def _restored_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def read_csv(path) -> pd.DataFrame:
    """Read back a CSV written by :func:`to_csv_bytes` (e.g. labels fed to training): the quote put
    before formula-like text is taken off again. Text that itself began with a quote and a formula
    character cannot be told apart and loses its quote."""
    frame = pd.read_csv(path)
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].map(_restored_cell)
    frame.columns = [_restored_cell(c) for c in frame.columns]
    return frame
