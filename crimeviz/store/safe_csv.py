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
