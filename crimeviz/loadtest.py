"""``bench load``: N real headless-browser sessions change Map filters against a local server.

The rerun time is what a user sees (click → new figures, script finished); the server's own
time per page run is reported beside it (``server_run_*``). The browsers run on the same machine
as the server, so on a small machine their rendering competes with it for the CPU.

Each session signs in, then for a fixed time alternately picks an offence in the sidebar filter
and removes it again (cycling through the offences), timing each rerun from the click to the
page showing the new figures with the script finished. Errors are timeouts, uncaught page errors and exceptions
rendered by Streamlit.
"""

import asyncio
import json
import secrets
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from crimeviz import auth, config, db, queries, serve

METRICS = '[data-testid="stMetricValue"]'
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


async def _figures(page) -> str:
    return "|".join(await page.locator(METRICS).all_inner_texts())


async def _rerun(page, click, timeout_ms: int) -> float:
    """Click, then wait until the figures change and the script is idle; seconds taken."""
    before = await _figures(page)
    t0 = time.perf_counter()
    await click()
    await page.wait_for_function(
        "([sel, before]) => Array.from(document.querySelectorAll(sel)).map(e => e.innerText).join('|') !== before",
        arg=[METRICS, before], timeout=timeout_ms)
    await page.wait_for_selector(IDLE, timeout=timeout_ms)
    return time.perf_counter() - t0


async def _session(browser, url: str, user: str, password: str, offences_to_pick: list[str], until: float,
                   out: dict, timeout_ms: int):
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.on("pageerror", lambda exc: out["errors"].append(f"{user}: page error {exc}"))
    try:
        await page.goto(url)
        await page.get_by_label("User name").fill(user)
        await page.get_by_label("Password", exact=True).fill(password)
        await page.get_by_role("button", name="Sign in").click()
        await page.locator(METRICS).first.wait_for(timeout=timeout_ms)
        await page.wait_for_selector(IDLE, timeout=timeout_ms)
        offences = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').first
        step = 0
        while time.time() < until:
            offence = offences_to_pick[(step // 2) % len(offences_to_pick)]

            async def pick(offence=offence):
                await offences.click()
                await page.get_by_role("option", name=offence, exact=True).click()
                await page.keyboard.press("Escape")

            async def remove(offence=offence):
                await offences.get_by_role("button", name=f"Remove {offence}").click()

            try:
                out["samples"].append(await _rerun(page, pick if step % 2 == 0 else remove, timeout_ms))
            except Exception as exc:  # a timeout or a closed page: count it and go on
                out["errors"].append(f"{user}: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
            if await page.locator('[data-testid="stException"]').count():
                out["errors"].append(f"{user}: the page shows an exception")
            step += 1
    finally:
        await context.close()


async def _drive(url: str, users: list[str], password: str, offences: list[str], seconds: float,
                 timeout_ms: int) -> dict:
    from playwright.async_api import async_playwright
    out = {"samples": [], "errors": []}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=serve.CHROMIUM, headless=True, args=serve.CHROMIUM_ARGS)
        until = time.time() + seconds
        await asyncio.gather(*(_session(browser, url, u, password, offences, until, out, timeout_ms)
                               for u in users))
        await browser.close()
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def bench_load(db_path=None, sessions: int = 10, seconds: float = 60, timeout_s: float = 30) -> dict:
    """Run the load test on a copy of the store (so it changes nothing) and return the figures."""
    if sessions < 1 or seconds <= 0:
        raise ValueError("sessions and seconds must be positive")
    if not Path(serve.CHROMIUM).exists():
        raise ValueError(f"{serve.CHROMIUM} is missing: install Debian's chromium (make test does)")
    work = Path(tempfile.mkdtemp(prefix="crimeviz-load-"))
    try:
        store = work / "load.duckdb"
        shutil.copy(db_path or config.db_path(), store)
        password = secrets.token_urlsafe(16)
        users = [f"load-{i:02d}" for i in range(sessions)]
        con = db.connect(store)
        for name in users:
            auth.add_user(con, name, password, "analyst")
        offences = queries.options(con)["offences"][:4]
        con.close()
        run_log = work / "runs.jsonl"
        proc, url = serve.start(store, work / "streamlit.log", env={"CRIMEVIZ_RUN_LOG": str(run_log)})
        try:
            out = asyncio.run(_drive(url, users, password, offences, seconds, int(timeout_s * 1000)))
        finally:
            serve.stop(proc)
        server = sorted(json.loads(line)["seconds"] for line in run_log.read_text().splitlines()) \
            if run_log.exists() else []
    finally:
        shutil.rmtree(work, ignore_errors=True)
    samples = sorted(out["samples"])
    return {
        "sessions": sessions, "seconds": seconds, "reruns": len(samples),
        "rerun_p50_s": _round(statistics.median(samples) if samples else None),
        "rerun_p95_s": _round(_percentile(samples, 95)),
        "rerun_max_s": _round(samples[-1] if samples else None),
        "server_runs": len(server),
        "server_run_p50_s": _round(statistics.median(server) if server else None),
        "server_run_p95_s": _round(_percentile(server, 95)),
        "errors": len(out["errors"]), "error_examples": out["errors"][:5],
        "targets": {"rerun_p95_s_max": 2.0, "errors": 0},
    }
