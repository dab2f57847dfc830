"""What a store holds, for scripts: rows per table, the import batches and the data version."""

from crimeviz.store import batches, db


def table_names(con) -> list[str]:
    """The store's tables (information_schema, so the same on DuckDB and PostgreSQL), by name."""
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
        "AND table_schema = current_schema() ORDER BY table_name"
    ).fetchall()
    return [r[0] for r in rows]


def table_counts(con) -> dict[str, int]:
    """Rows per table. Table names come from the catalog and are quoted, never from a user."""
    counts = {}
    for name in table_names(con):
        quoted = '"' + name.replace('"', '""') + '"'
        counts[name] = int(con.execute(f"SELECT count(*) FROM {quoted}").fetchall()[0][0])
    return counts


def store_info(con) -> dict:
    """``tables`` (rows per table), ``data_version``, ``last_batch`` (the one an undo would take back)
    and ``imports`` (every batch, newest first, with its counts)."""
    batches.ensure(con)
    imports = batches.table(con)
    records = [
        {key: (None if _missing(value) else value) for key, value in row.items()}
        for row in imports.astype(object).to_dict(orient="records")
    ]
    return {
        "tables": table_counts(con),
        "data_version": db.data_version(con),
        "last_batch": batches.last_batch(con),
        "imports": records,
    }


def _missing(value) -> bool:
    try:
        return value != value or value is None  # NaN and NaT are not equal to themselves
    except TypeError:
        return False
