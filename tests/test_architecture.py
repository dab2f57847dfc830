"""The layout's rules that import-linter cannot see: SQL on the incidents table lives in the store."""

import re

from tests.conftest import ROOT

# The project writes SQL keywords in capitals; prose ("derived from incidents") is left alone.
INCIDENT_SQL = re.compile(r"\b(FROM|JOIN|INTO|UPDATE)\s+incidents\b")
# The Map benchmark times hand-written SQL on a synthetic copy of the table: that SQL is its yardstick.
YARDSTICK = ROOT / "crimeviz" / "bench" / "map.py"


def test_only_the_store_package_runs_sql_on_the_incidents_table():
    offenders = []
    for path in sorted([*(ROOT / "crimeviz").rglob("*.py"), *(ROOT / "app_pages").rglob("*.py"), ROOT / "app.py"]):
        if (ROOT / "crimeviz" / "store") in path.parents or path == YARDSTICK:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if INCIDENT_SQL.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "SQL on incidents outside crimeviz/store:\n" + "\n".join(offenders)
