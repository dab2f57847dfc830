"""``python -m crimeviz bench store``: the shared store under a concurrent writer, per profile.

- the Map's aggregation latency in this process while another process imports ``rows`` incidents,
  as a ratio to the same query with no import running;
- import throughput (rows/s) in one process, from the validated file to the committed batch;
- how long a write committed by a second process takes to be seen here (the app's caches key on
  the data version, so that is when the next rerun shows it).
"""

import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from crimeviz import config
from crimeviz.access import auth
from crimeviz.store import db, importer, queries
from crimeviz.store.filters import IncidentFilter

MAPPING = {"lat": "Latitude", "lon": "Longitude", "occurred_at": "Date", "offence": "Type"}
BENCH_USER = "bench.admin"


def incident_file(path: Path, rows: int, seed: int) -> Path:
    """``rows`` distinct synthetic incidents around Toronto in 2023, as a CSV an RMS might export."""
    rng = np.random.default_rng(seed)
    when = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 365 * 24 * 60, rows), unit="min")
    pd.DataFrame(
        {
            "Date": when.strftime("%Y-%m-%d %H:%M"),
            "Type": rng.choice(["Assault", "Robbery", "Auto Theft", "Break and Enter"], rows),
            "Latitude": rng.uniform(43.60, 43.80, rows).round(6),
            "Longitude": rng.uniform(-79.55, -79.25, rows).round(6),
        }
    ).to_csv(path, index=False)
    return path


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50_s": round(statistics.median(ordered), 4),
        "p95_s": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 4),
        "max_s": round(ordered[-1], 4),
    }


def map_query(con, f: IncidentFilter) -> float:
    t0 = time.perf_counter()
    queries.hex_counts(con, f, 8)
    return time.perf_counter() - t0


def during_import(location, con, f: IncidentFilter, path: Path, env: dict) -> tuple[list[float], float]:
    """Map query latencies while ``python -m crimeviz import`` runs in another process, and its wall time."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "crimeviz", "import", str(path), "--db", str(location), "--mapping", _mapping_text()],
        cwd=config.ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    samples = []
    while proc.poll() is None:
        samples.append(map_query(con, f))
        time.sleep(0.02)
    wall = time.perf_counter() - start
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"the import in the second process failed: {err.strip().splitlines()[-1]}")
    return samples, wall


def visibility(location, con, f: IncidentFilter, repeats: int, env: dict) -> list[float]:
    """Seconds from a second process committing one new incident to the Map's query here counting it
    (on the server profile this includes the replica's refresh)."""
    script = (
        "import sys, time\nimport pandas as pd\nfrom crimeviz.store import db\ncon = db.connect(sys.argv[1])\n"
        "for i in range(int(sys.argv[2])):\n"
        "    day = sys.stdin.readline().strip()\n"
        "    row = pd.DataFrame({'occurred_at': [pd.Timestamp(day)], 'offence': ['Assault'], 'premises': [None],\n"
        "                        'neighbourhood': [None], 'lat': [43.65 + i * 1e-4], 'lon': [-79.38]})\n"
        "    row['occurred_at'] = row['occurred_at'].astype('datetime64[us]')\n"
        "    db.insert_incidents(con, db.with_cells(row, 'bench-visibility'))\n"
        "    print(time.time(), flush=True)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(location), str(repeats)],
        cwd=config.ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    delays = []
    try:
        for _ in range(repeats):
            before = queries.total(con, f)
            proc.stdin.write(f"{f.end} 12:00\n")
            proc.stdin.flush()
            while queries.total(con, f) == before:
                time.sleep(0.002)
            seen = time.time()
            committed = float(proc.stdout.readline())
            delays.append(max(0.0, seen - committed))
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
    return delays


def _mapping_text() -> str:
    return ",".join(f"{k}={v}" for k, v in MAPPING.items())


def profile(location, rows: int, repeats: int, work: Path, env: dict) -> dict:
    con = db.open_store(location)
    last = queries.options(con)["last_date"]
    f = IncidentFilter(last - timedelta(days=364), last)
    map_query(con, f)  # warm: the first query of a server store copies its replica
    idle = [map_query(con, f) for _ in range(repeats)]
    busy, wall = during_import(location, con, f, incident_file(work / "second.csv", rows, seed=1), env)
    path = incident_file(work / "third.csv", rows, seed=2)
    t0 = time.perf_counter()
    loaded = importer.import_file(con, path, MAPPING, BENCH_USER).loaded
    in_process = time.perf_counter() - t0
    seen = visibility(location, con, f, repeats, env)
    out = {
        "store": db.describe(location),
        "incidents": db.incident_count(con),
        "map_query_idle": percentiles(idle),
        "map_query_during_import": percentiles(busy),
        "ratio_p50": round(statistics.median(busy) / statistics.median(idle), 2),
        "ratio_p95": round(percentiles(busy)["p95_s"] / percentiles(idle)["p95_s"], 2),
        "import_rows": rows,
        "import_wall_s_other_process": round(wall, 2),
        "import_rows_per_s": round(loaded / in_process),
        "write_visible_after_s": percentiles(seen),
    }
    con.close()
    return out


def bench_store(db_path=None, server_url: str | None = None, rows: int = 240_000, repeats: int = 20) -> dict:
    """Both profiles when ``server_url`` names an empty PostgreSQL database, else the embedded one."""
    work = Path(tempfile.mkdtemp(prefix="crimeviz-bench-store-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRIMEVIZ_")}
    env |= {
        "CRIMEVIZ_SECRETS": str(work / "secrets.toml"),
        "CRIMEVIZ_USER": BENCH_USER,
        "CRIMEVIZ_PASSWORD": secrets.token_urlsafe(16),
    }
    saved = os.environ.get("CRIMEVIZ_SECRETS")
    os.environ["CRIMEVIZ_SECRETS"] = env["CRIMEVIZ_SECRETS"]
    try:
        store = work / "store.duckdb"
        shutil.copy(db_path or config.db_path(), store)
        auth.add_user(db.connect(store), BENCH_USER, env["CRIMEVIZ_PASSWORD"], "admin")  # accounts live in secrets
        out = {"rows_imported_per_run": rows, "embedded": profile(store, rows, repeats, work, env)}
        if server_url:
            out["server"] = profile(server_url, rows, repeats, work, env)
        return out
    finally:
        if saved is None:
            os.environ.pop("CRIMEVIZ_SECRETS", None)
        else:
            os.environ["CRIMEVIZ_SECRETS"] = saved
        shutil.rmtree(work, ignore_errors=True)
