"""``bench load``: N real headless-browser sessions change Map filters against a local server.

The rerun time is what a user sees (click → new figures, script finished, next frames drawn);
the server's own time per page run is reported beside it (``server_run_*``). The browsers run on
the same machine as the server, so on a small machine their software rendering (no GPU: deck.gl
draws through SwiftShader) competes with the server for the CPU.

Each session (a Chromium of its own) signs in, then for a fixed time alternately picks an offence
in the sidebar filter and removes it again (cycling through the offences); ``_Window`` says when
reruns are measured. A rerun is timed from the click that changes the filter (the option picked,
or the chip's remove button) to the page showing the new figures with the script finished and its
next frames drawn. Between changes each simulated analyst looks at the result for a think time
drawn uniformly from ``[think/2, 3*think/2]`` (seeded), as load tests of interactive tools do;
``think=0`` clicks as fast as the page allows. Errors are timeouts, uncaught page errors and
exceptions rendered by Streamlit, counted throughout.

The server and the browsers share this machine, so the report also says how busy its CPUs were
before the run and during the measured window, and how much time the hypervisor stole from them:
figures taken on a machine that was already busy, or short of CPU, are not comparable.
"""

import asyncio
import json
import os
import random
import secrets
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from unittest import mock

from crimeviz import config
from crimeviz.access import auth
from crimeviz.store import db, queries
from crimeviz.web import serve

METRICS = '[data-testid="stMetricValue"]'
WARM_UP_S = 10.0
SPAWN_EVERY_S = 4.0
NEXT_FRAMES = "new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"


async def _figures(page) -> str:
    return "|".join(await page.locator(METRICS).all_inner_texts())


async def _rerun(page, target, timeout_ms: int) -> float:
    """Click ``target``, then wait until the figures change, the script is idle and the next frames
    are drawn; seconds taken."""
    before = await _figures(page)
    await target.wait_for(timeout=timeout_ms)
    t0 = time.perf_counter()
    await target.click(timeout=timeout_ms)
    await page.wait_for_function(
        "([sel, before]) => Array.from(document.querySelectorAll(sel)).map(e => e.innerText).join('|') !== before",
        arg=[METRICS, before],
        timeout=timeout_ms,
    )
    await page.wait_for_selector(serve.SCRIPT_IDLE, timeout=timeout_ms)
    await page.evaluate(NEXT_FRAMES)  # deck.gl draws new data on the next animation frame
    return time.perf_counter() - t0


class _Window:
    """The measured window: it opens WARM_UP_S after every session has signed in and closes
    ``seconds`` later. Sessions start one every SPAWN_EVERY_S (a load generator's spawn rate) and
    work through the warm-up, whose reruns (each client's first ones included) are not measured."""

    def __init__(self, sessions: int, seconds: float):
        self.waiting, self.seconds = sessions, seconds
        self.opened = asyncio.Event()
        self.started = self.until = 0.0

    def ready(self) -> None:
        self.waiting -= 1
        if self.waiting == 0:
            self.started = time.time() + WARM_UP_S
            self.until = self.started + self.seconds
            self.opened.set()


# While a simulated analyst reads the result, their page's animation-frame loop is parked: deck.gl
# redraws only when something changed but polls every frame, which in software-rendered headless
# Chromium costs ~14% of a core per idle map (measured: ten idle Map pages took 1.4 of the 2 cores).
# On real clients that loop runs on the analysts' own machines, not on the server's CPU. The loop
# runs from the click until the page has finished and drawn its next frames, so every rerun's
# drawing is counted.
PARKING = """(() => {
  const raf = window.requestAnimationFrame.bind(window), caf = window.cancelAnimationFrame.bind(window);
  let parked = false, queue = new Map(), next = -1;
  window.requestAnimationFrame = cb => {
    if (!parked) return raf(cb);
    queue.set(next, cb);
    return next--;
  };
  window.cancelAnimationFrame = id => (id < 0 ? queue.delete(id) : caf(id));
  window.__parkFrames = () => { parked = true; };
  window.__resumeFrames = () => { parked = false; const q = [...queue.values()]; queue.clear(); q.forEach(cb => raf(cb)); };
})()"""


def cpu_times() -> list[int] | None:
    """The machine's CPU time so far, from ``/proc/stat``: user, nice, system, idle, iowait, irq,
    softirq and steal ticks (all CPUs together); None where there is no ``/proc/stat``."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    return [int(x) for x in fields[1:9]] if fields and fields[0] == "cpu" else None


def cpu_shares(before: list[int] | None, after: list[int] | None) -> dict:
    """Busy and stolen shares of the machine's CPU time between two ``cpu_times`` readings
    (busy: running anything; stolen: the hypervisor gave the time to another machine)."""
    if before is None or after is None:
        return {"busy": None, "stolen": None}
    user, nice, system, idle, iowait, irq, softirq, steal = (b - a for a, b in zip(before, after))
    total = user + nice + system + idle + iowait + irq + softirq + steal
    if total <= 0:
        return {"busy": None, "stolen": None}
    return {"busy": round((user + nice + system + irq + softirq) / total, 3), "stolen": round(steal / total, 3)}


async def _window_cpu(window: "_Window") -> dict:
    """The machine's CPU shares over the measured window."""
    await window.opened.wait()
    await asyncio.sleep(max(0.0, window.started - time.time()))
    before = cpu_times()
    await asyncio.sleep(max(0.0, window.until - time.time()))
    return cpu_shares(before, cpu_times())


def _error(user: str, during: str, exc: Exception) -> str:
    """One line for the report: who, doing what, what kind of failure, and its message's first line."""
    first = (str(exc).splitlines() or [""])[0]
    return f"{user} ({during}): {type(exc).__name__}: {first[:160]}"


async def _sign_in(page, url: str, user: str, password: str, timeout_ms: int) -> None:
    await page.goto(url)
    await page.get_by_label("User name").fill(user)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.locator(METRICS).first.wait_for(timeout=timeout_ms)
    await page.wait_for_selector(serve.SCRIPT_IDLE, timeout=timeout_ms)


async def _session(
    pw,
    url: str,
    user: str,
    password: str,
    offences_to_pick: list[str],
    window: _Window,
    out: dict,
    timeout_ms: int,
    think: float,
    rng: random.Random,
    park: bool,
    delay: float,
):
    """One analyst with a browser of their own (its own renderer and GPU process, as on their own PC),
    starting after ``delay`` seconds."""
    browser, doing = None, "signing in"
    try:
        try:
            await asyncio.sleep(delay)
            browser = await pw.chromium.launch(executable_path=serve.CHROMIUM, headless=True, args=serve.CHROMIUM_ARGS)
            page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
            if park:
                await page.add_init_script(PARKING)
            page.on("pageerror", lambda exc: out["errors"].append(f"{user}: page error {exc}"))
            await _sign_in(page, url, user, password, timeout_ms)
            if park:
                await page.evaluate("window.__parkFrames()")
        finally:
            window.ready()
        await window.opened.wait()
        doing = "between filter changes"
        await asyncio.sleep(rng.uniform(0, think))  # the analysts do not all click at the same moment
        offences = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').first
        step = 0
        while time.time() < window.until:
            if park:
                await page.evaluate("window.__resumeFrames()")
            offence = offences_to_pick[(step // 2) % len(offences_to_pick)]
            measured = time.time() >= window.started  # past the warm-up
            try:
                if step % 2 == 0:
                    await offences.click(timeout=timeout_ms)
                    seconds = await _rerun(page, page.get_by_role("option", name=offence, exact=True), timeout_ms)
                    await page.keyboard.press("Escape")
                else:
                    seconds = await _rerun(page, offences.get_by_role("button", name=f"Remove {offence}"), timeout_ms)
                if measured:
                    out["samples"].append(seconds)
            except Exception as exc:  # a timeout or a closed page: count it and go on
                out["errors"].append(_error(user, f"{'picking' if step % 2 == 0 else 'removing'} {offence}", exc))
            if await page.locator('[data-testid="stException"]').count():
                out["errors"].append(f"{user}: the page shows an exception")
            step += 1
            if park:
                await page.evaluate("window.__parkFrames()")
            await asyncio.sleep(min(rng.uniform(think / 2, 1.5 * think), max(0.0, window.until - time.time())))
    except Exception as exc:  # no browser or no sign-in: the session is lost, which is an error
        out["errors"].append(_error(user, doing, exc))
    finally:
        if browser is not None:
            await browser.close()


async def _drive(
    url: str,
    users: list[str],
    password: str,
    offences: list[str],
    seconds: float,
    timeout_ms: int,
    think: float,
    park: bool,
) -> dict:
    from playwright.async_api import async_playwright

    out = {"samples": [], "errors": []}
    window = _Window(len(users), seconds)
    async with async_playwright() as pw:
        t0 = time.time()
        cpu = asyncio.ensure_future(_window_cpu(window))
        await asyncio.gather(
            *(
                _session(
                    pw,
                    url,
                    u,
                    password,
                    offences,
                    window,
                    out,
                    timeout_ms,
                    think,
                    random.Random(i),
                    park,
                    i * SPAWN_EVERY_S,
                )
                for i, u in enumerate(users)
            )
        )
        out["cpu_window"] = await cpu
    out["ramp_up_s"] = window.started - t0
    out["window"] = (window.started, window.until)
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


IDLE_CHECK_S = 3.0


def bench_load(
    db_path=None, sessions: int = 10, seconds: float = 60, think: float = 5.0, park: bool = True, timeout_s: float = 30
) -> dict:
    """Run the load test on a copy of the store (so it changes nothing) and return the figures.

    ``cpu_before`` is the machine's CPU over IDLE_CHECK_S before anything starts (another job
    running there makes the figures incomparable), ``cpu_window`` over the measured window."""
    if sessions < 1 or seconds <= 0 or think < 0:
        raise ValueError("sessions and seconds must be positive and think not negative")
    source = Path(db_path or config.db_path())
    if not source.is_file():
        raise ValueError(f"no incident store at {source}: run `python -m crimeviz db build` first")
    if not Path(serve.CHROMIUM).exists():
        raise ValueError(f"{serve.CHROMIUM} is missing: install Debian's chromium (make test does)")
    before = cpu_times()
    time.sleep(IDLE_CHECK_S)
    cpu_before = cpu_shares(before, cpu_times())
    work = Path(tempfile.mkdtemp(prefix="crimeviz-load-"))
    try:
        store = work / "load.duckdb"
        shutil.copy(source, store)
        password = secrets.token_urlsafe(16)
        users = [f"load-{i:02d}" for i in range(sessions)]
        run_log = work / "runs.jsonl"
        env = {"CRIMEVIZ_RUN_LOG": str(run_log), "CRIMEVIZ_SECRETS": str(work / "secrets.toml")}
        con = db.connect(store)
        with mock.patch.dict(os.environ, env):  # the load-test accounts live only in the work folder
            for name in users:
                auth.add_user(con, name, password, "analyst")
        offences = queries.options(con)["offences"][:4]
        con.close()
        proc, url = serve.start(store, work / "streamlit.log", env=env)
        try:
            # A thread of its own: the caller may already run an event loop (e.g. Playwright's sync API).
            with ThreadPoolExecutor(1) as pool:
                out = pool.submit(
                    asyncio.run, _drive(url, users, password, offences, seconds, int(timeout_s * 1000), think, park)
                ).result()
        finally:
            serve.stop(proc)
        runs = [json.loads(line) for line in run_log.read_text().splitlines()] if run_log.exists() else []
        opened, closed = out["window"]
        server = sorted(run["seconds"] for run in runs if opened <= run["ended"] <= closed + timeout_s)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    samples = sorted(out["samples"])
    return {
        "sessions": sessions,
        "seconds": seconds,
        "think_s": think,
        "idle_frames_parked": park,
        "ramp_up_s": _round(out["ramp_up_s"]),
        "reruns": len(samples),
        "rerun_p50_s": _round(statistics.median(samples) if samples else None),
        "rerun_p95_s": _round(_percentile(samples, 95)),
        "rerun_max_s": _round(samples[-1] if samples else None),
        "server_runs": len(server),
        "server_run_p50_s": _round(statistics.median(server) if server else None),
        "server_run_p95_s": _round(_percentile(server, 95)),
        "errors": len(out["errors"]),
        "error_examples": out["errors"][:5],
        "cpus": os.cpu_count(),
        "cpu_before": cpu_before,
        "cpu_window": out["cpu_window"],
        "targets": {"rerun_p95_s_max": 2.0, "errors": 0},
    }
