"""The incident store: DuckDB schema and connections (``db``), imports (``importer``), the Map's
queries (``queries``), the frozen filter that becomes bound SQL (``filters``), the H3 grid
(``grid``), the embedded Toronto seed data (``toronto``) and the append-only audit trail
(``audit``). Every SQL statement on the ``incidents`` table lives in this package."""
