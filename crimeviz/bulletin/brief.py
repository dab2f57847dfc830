"""The bulletin: a printable CompStat-style brief of the days up to a date, as one PDF.

CompStat's weekly crime report sets the last 7 and 28 days beside the periods before them, per
precinct (Bratton & Malinowski 2008, "Police performance management in practice: taking COMPSTAT
to the next level", *Policing* 2(3), 259-265). The bulletin does that per neighbourhood and adds
what the app computes: Gi* hot spots of the last 28 days (``explore.hotspots``), the forecast of
the next day (``forecast.predict``), near-repeat chains (``explore.near_repeat``), spikes
(``explore.spikes``), the CCTV reviews of the period that raised alerts (``cctv.store``) and the
live camera alerts that started in it (``cctv.live.alert_store``).

Sections the reader's role may not see (forecasts, CCTV) say so instead of showing data. Making a
bulletin is an export: it needs the ``incidents`` permission and is audited (``bulletin.export``).
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from crimeviz.access.auth import User, require
from crimeviz.bulletin import figures
from crimeviz.explore import hotspots, near_repeat, spikes
from crimeviz.explore.pdf import Document
from crimeviz.store import audit, counts, grid, queries
from crimeviz.store.filters import IncidentFilter

RES = 8
COMPARE_DAYS = 28
HOTSPOT_DAYS = 28
HOTSPOT_PERMUTATIONS = 99
TOP = 10
FORECAST_COVERAGE = 0.05
NEAR_REPEAT_DAYS = 28
DISTANCE_BANDS = (0, 100, 200, 400)
TIME_BANDS = (0, 7, 14, 28)
SEED = 1
MAX_PERIOD = 91


@dataclass
class Bulletin:
    """Everything the PDF shows, as the library computed it (tests compare the PDF with these)."""

    day: date
    period: int
    user: User
    generated_at: datetime
    data_until: date | None
    windows: pd.DataFrame  # window, current, previous, change, pct_change
    offences: pd.DataFrame  # offence, current, previous, change
    daily: pd.DataFrame  # period, n
    areas: dict[int, pd.DataFrame]  # days -> area, current, previous, change, pct_change
    hot: pd.DataFrame  # the TOP significant Gi* hot spots of the last HOTSPOT_DAYS
    study_cells: list[str]
    names: dict[str, str]
    forecast: pd.DataFrame | None = None
    forecast_note: str = ""
    near_repeat: pd.DataFrame = field(default_factory=pd.DataFrame)  # per offence
    chains: pd.DataFrame = field(default_factory=pd.DataFrame)  # chains with an incident in the period
    chain_points: pd.DataFrame = field(default_factory=pd.DataFrame)
    spike_cells: pd.DataFrame = field(default_factory=pd.DataFrame)
    spike_areas: pd.DataFrame | None = None
    spike_layer: str | None = None
    cctv: pd.DataFrame | None = None
    live: pd.DataFrame | None = None  # live camera alerts that started in the period
    cctv_note: str = ""
    area_layer: str | None = None  # None: the neighbourhoods recorded on the incidents

    @property
    def start(self) -> date:
        return self.day - timedelta(days=self.period - 1)


def _window(day: date, days: int) -> tuple[IncidentFilter, IncidentFilter]:
    now = IncidentFilter(day - timedelta(days=days - 1), day)
    before = IncidentFilter(day - timedelta(days=2 * days - 1), day - timedelta(days=days))
    return now, before


def _change(current: int, previous: int) -> tuple[int, float]:
    return current - previous, (round(100 * (current - previous) / previous, 1) if previous else float("nan"))


def window_table(con, day: date, period: int) -> pd.DataFrame:
    """Incidents in the last ``period`` and 28 days to ``day`` and in the periods of equal length before."""
    rows = []
    for days in dict.fromkeys((period, COMPARE_DAYS)):
        now, before = _window(day, days)
        current, previous = queries.total(con, now), queries.total(con, before)
        rows.append((f"Last {days} days", current, previous, *_change(current, previous)))
    return pd.DataFrame(rows, columns=["window", "current", "previous", "change", "pct_change"])


def offence_table(con, day: date, period: int) -> pd.DataFrame:
    """Per offence: incidents in the last ``period`` days and in the ``period`` days before."""
    now, before = _window(day, period)
    rows = []
    for offence in counts.offence_types(con):
        current = queries.total(con, IncidentFilter(now.start, now.end, (offence,)))
        previous = queries.total(con, IncidentFilter(before.start, before.end, (offence,)))
        rows.append((offence, current, previous, current - previous))
    return pd.DataFrame(rows, columns=["offence", "current", "previous", "change"])


def hot_spots(con, day: date, cells: list[int]) -> pd.DataFrame:
    """The ``TOP`` significant Gi* hot spots (normal approximation, FDR 5 %) of the 28 days to ``day``."""
    f = IncidentFilter(day - timedelta(days=HOTSPOT_DAYS - 1), day)
    gi = hotspots.gi_star(
        queries.cell_counts(con, f, RES),
        cells,
        hotspots.kring_weights(cells, 1),
        permutations=HOTSPOT_PERMUTATIONS,
        seed=hotspots.SEED,
    )
    hot = gi[gi["category"] == "Hot spot"].sort_values(["z", "cell"], ascending=[False, True]).head(TOP)
    return hot.reset_index(drop=True)


def next_day_forecast(con, day: date, method: str) -> tuple[pd.DataFrame, str]:
    """The forecast of the day after ``day`` by ``method``, falling back to the 365-day moving count
    when the method cannot run; and a sentence saying which method it is."""
    from crimeviz.forecast import predict

    target = day + timedelta(days=1)
    note = ""
    try:
        frame = predict.forecast_for_date(con, target, method=method, res=RES)
    except (ValueError, OSError) as exc:
        if method == "mc365":
            raise
        note = f" ({predict.METHODS.get(method, method)} could not run: {exc})"
        frame = predict.forecast_for_date(con, target, method="mc365", res=RES)
    used = predict.METHODS.get(frame.attrs["method"], frame.attrs["method"])
    lead = frame.attrs["lead"]
    ahead = "tomorrow" if lead == 1 else f"{lead} days past the last day of data"
    text = f"{target:%a %d %b %Y} ({ahead}) by {used}{note}, from incidents up to {frame.attrs['data_until']}."
    return frame, text


def near_repeat_series(con, day: date, period: int, names: dict[str, str]):
    """Per offence, the Knox test of the 28 days to ``day`` (the closest band's ratio and p-value)
    and its chains with an incident in the bulletin's period; and those chains' incidents."""
    start = day - timedelta(days=NEAR_REPEAT_DAYS - 1)
    first_day = day - timedelta(days=period - 1)
    tests, chains, points = [], [], []
    for offence in counts.offence_types(con):
        try:
            result, incidents = near_repeat.for_offence(
                con, offence, start, day, DISTANCE_BANDS, TIME_BANDS, HOTSPOT_PERMUTATIONS, SEED
            )
        except ValueError:
            continue  # fewer than two incidents: nothing to pair
        ratio, p = result.ratio[0, 0], result.p[0, 0]
        tests.append((offence, result.incidents, int(result.observed[0, 0]), ratio, p, len(result.chains)))
        by_id = incidents.set_index("id")
        for members in result.chains:
            rows = by_id.loc[members]
            if rows["occurred_on"].max() < pd.Timestamp(first_day):
                continue
            cell = grid.to_hex([grid.cells_for_points(rows["lat"].to_numpy(), rows["lon"].to_numpy())[RES][0]])[0]
            chains.append(
                (offence, len(members), rows["occurred_on"].min(), rows["occurred_on"].max(), names.get(cell, ""))
            )
            points.append(rows[["lat", "lon"]])
    test_table = pd.DataFrame(tests, columns=["offence", "incidents", "pairs", "ratio", "p", "chains"])
    chain_table = pd.DataFrame(chains, columns=["offence", "incidents", "first", "last", "neighbourhood"])
    chain_table = chain_table.sort_values(["incidents", "last"], ascending=False, ignore_index=True)
    chain_points = pd.concat(points, ignore_index=True) if points else pd.DataFrame(columns=["lat", "lon"])
    return test_table, chain_table, chain_points


def cctv_alerts(con, day: date, period: int) -> pd.DataFrame:
    """CCTV reviews saved in the period that found alert segments, newest first."""
    from crimeviz.cctv import store as cctv_store

    cctv_store.ensure_tables(con)
    reports = cctv_store.reports(con)
    when = pd.to_datetime(reports["created_at"]).dt.date
    inside = (when >= day - timedelta(days=period - 1)) & (when <= day) & (reports["n_segments"] > 0)
    return reports[inside].reset_index(drop=True)


def live_alerts(con, day: date, period: int) -> pd.DataFrame:
    """Live camera alerts (``cctv.live.alert_store``) that started in the period, newest first."""
    from crimeviz.cctv.live import alert_store

    found = alert_store.alerts(con, limit=100_000)
    started = pd.to_datetime(found["started_at"]).dt.date
    return found[(started >= day - timedelta(days=period - 1)) & (started <= day)].reset_index(drop=True)


def area_change(con, day: date, days: int, layer: str | None) -> pd.DataFrame:
    """CompStat per area: the ``TOP`` busiest areas of ``layer`` (``store.areas.compstat``), or of the
    neighbourhoods recorded on the incidents when ``layer`` is None (``queries.neighbourhood_change``),
    in the ``days`` to ``day`` against the ``days`` before: area, current, previous, change, pct_change."""
    from crimeviz.store import areas

    everything = IncidentFilter(day, day)
    if layer is None:
        return queries.neighbourhood_change(con, everything, days, top=TOP).rename(columns={"neighbourhood": "area"})
    return areas.compstat(con, layer, everything, days, top=TOP)


def gather(
    con, user: User, day: date, period: int = 7, forecast_method: str = "cdna", layer: str | None = None
) -> Bulletin:
    """Compute every section of the bulletin for the ``period`` days ending on ``day``; per area of
    ``layer`` (an area layer) or, by default, per neighbourhood recorded on the incidents."""
    require(user, "incidents")
    if not 1 <= period <= MAX_PERIOD:
        raise ValueError(f"the period must be 1 to {MAX_PERIOD} days (got {period})")
    first = counts.first_incident(con)
    if first is None:
        raise ValueError("the store holds no incidents")
    if day < first.date():
        raise ValueError(f"{day} is before the first incident ({first.date()})")
    last = counts.last_incident(con, before=day + timedelta(days=1))
    cells = queries.study_cells(con, RES)
    names = queries.neighbourhood_names(con, RES)
    series = queries.series(con, IncidentFilter(day - timedelta(days=55), day), "D")
    everything = IncidentFilter(day, day)
    b = Bulletin(
        day=day,
        period=period,
        user=user,
        generated_at=datetime.now().replace(microsecond=0),
        data_until=last.date() if last else None,
        windows=window_table(con, day, period),
        offences=offence_table(con, day, period),
        daily=series[["period", "n"]],
        areas={d: area_change(con, day, d, layer) for d in dict.fromkeys((period, COMPARE_DAYS))},
        hot=hot_spots(con, day, cells),
        study_cells=grid.to_hex(cells),
        names=names,
        area_layer=layer,
    )
    if user.may("forecasts"):
        try:
            b.forecast, b.forecast_note = next_day_forecast(con, day, forecast_method)
        except ValueError as exc:  # e.g. the data end more than a week before the day
            b.forecast_note = f"No forecast: {exc}."
    else:
        b.forecast_note = f"Not shown: the {user.role} role may not see forecasts."
    b.near_repeat, b.chains, b.chain_points = near_repeat_series(con, day, period, names)
    week_before = day - timedelta(days=spikes.WINDOW_DAYS)
    b.spike_cells = spikes.mark_new(
        spikes.cell_spikes(con, everything, day, RES), spikes.cell_spikes(con, everything, week_before, RES), "cell"
    )
    from crimeviz.store import areas

    layers = areas.layer_names(con)
    if layers:
        b.spike_layer = areas.DEFAULT_LAYER if areas.DEFAULT_LAYER in layers else layers[0]
        b.spike_areas = spikes.mark_new(
            spikes.area_spikes(con, everything, day, b.spike_layer),
            spikes.area_spikes(con, everything, week_before, b.spike_layer),
            "area",
        )
    if user.may("cctv"):
        b.cctv = cctv_alerts(con, day, period)
        b.live = live_alerts(con, day, period)
    else:
        b.cctv_note = f"Not shown: the {user.role} role may not see CCTV reviews."
    return b


def _int(v) -> str:
    return f"{int(v):,}"


def _signed(v) -> str:
    return f"{int(v):+,}"


def _new(flag) -> str:
    return "new" if flag else "again"


def _pct(v) -> str:
    return "–" if pd.isna(v) else f"{v:+.1f}%"


def render(b: Bulletin) -> bytes:
    """The bulletin as PDF bytes (A4, charts and maps as images)."""
    title = f"CrimeViz bulletin: {b.period} days to {b.day:%a %d %b %Y}"
    doc = Document(title, author=b.user.display_name or b.user.username)
    doc.heading(title, 15)
    doc.paragraph(
        f"Period {b.start:%d %b %Y} – {b.day:%d %b %Y}. Prepared for {b.user.display_name} ({b.user.username}, "
        f"{b.user.role}) on {b.generated_at:%d %b %Y %H:%M}. Data to {b.data_until or 'none'}.",
        8,
    )

    doc.heading("1. Incidents against the periods before")
    doc.data_table(
        ["Window", "Incidents", "Period before", "Change", "% change"],
        [
            (r.window, _int(r.current), _int(r.previous), _signed(r.change), _pct(r.pct_change))
            for r in b.windows.itertuples()
        ],
        [40, 28, 28, 24, 24],
    )
    doc.ln(2)
    doc.data_table(
        ["Offence", f"Last {b.period} days", "Period before", "Change"],
        [(r.offence, _int(r.current), _int(r.previous), _signed(r.change)) for r in b.offences.itertuples()],
        [50, 30, 30, 24],
    )
    doc.ln(3)
    doc.image_row(
        [
            figures.daily_bars(b.daily, b.start, "Incidents per day (the period in red)"),
            figures.offence_bars(b.offences, f"last {b.period} days", "period before", "By offence"),
        ],
        ["Figure 1. Incidents per day, last 8 weeks.", "Figure 2. Incidents by offence."],
        per_row=2,
    )

    area_word = "Neighbourhood" if b.area_layer is None else f"Area ({b.area_layer})"
    doc.heading(("2. Neighbourhoods" if b.area_layer is None else "2. Areas") + ": change against the period before")
    for days, table in b.areas.items():
        doc.paragraph(f"Last {days} days against the {days} before (busiest {len(table)}):", 9, bold=True)
        doc.data_table(
            [area_word, "Incidents", "Period before", "Change", "% change"],
            [
                (r.area, _int(r.current), _int(r.previous), _signed(r.change), _pct(r.pct_change))
                for r in table.itertuples()
            ],
            [70, 24, 26, 22, 22],
        )
        doc.ln(2)

    doc.heading(f"3. Hot spots of the last {HOTSPOT_DAYS} days")
    doc.paragraph(
        f"Getis-Ord Gi* on H3 cells (resolution {RES}, k-ring 1), significant at a false discovery rate of 5 % "
        f"(normal approximation, Benjamini–Hochberg); the {len(b.hot)} hottest of them.",
        8,
    )
    if len(b.hot):
        doc.data_table(
            ["#", "Cell", "Neighbourhood", "Incidents", "Gi* z", "p"],
            [
                (i, r.cell, b.names.get(r.cell, ""), _int(r.n), f"{r.z:.2f}", hotspots.p_label(r.p))
                for i, r in enumerate(b.hot.itertuples(), start=1)
            ],
            [8, 34, 60, 20, 18, 18],
        )
    else:
        doc.paragraph("No cell is a significant hot spot.", 9)
    maps = [
        figures.hex_map(
            b.study_cells,
            list(b.hot["cell"]),
            ["#c0392b"] * len(b.hot),
            f"Gi* hot spots, last {HOTSPOT_DAYS} days",
            [str(i) for i in range(1, len(b.hot) + 1)],
            focus=True,
        )
    ]
    captions = ["Figure 3. Hot spots, close up (numbers as in the table)."]

    doc.heading("4. Forecast")
    doc.paragraph(b.forecast_note, 8)
    if b.forecast is not None:
        flagged = b.forecast.head(max(1, int(round(FORECAST_COVERAGE * len(b.forecast)))))
        top = b.forecast.head(TOP)
        doc.data_table(
            ["Rank", "Cell", "Neighbourhood", "Expected incidents"],
            [(int(r.rank), r.cell, b.names.get(r.cell, ""), f"{r.intensity:.2f}") for r in top.itertuples()],
            [14, 34, 70, 34],
        )
        maps.append(
            figures.hex_map(
                b.study_cells,
                list(flagged["cell"]),
                ["#e67e22"] * len(flagged),
                f"Top {FORECAST_COVERAGE:.0%} of cells forecast",
            )
        )
        captions.append(f"Figure 4. The {len(flagged)} cells forecast highest.")
    doc.ln(2)
    doc.image_row(maps, captions, per_row=2)

    doc.heading(f"5. Near-repeat series (last {NEAR_REPEAT_DAYS} days)")
    doc.paragraph(
        f"Knox test per offence ({HOTSPOT_PERMUTATIONS} permutations, seed {SEED}); the closest band is "
        f"[{DISTANCE_BANDS[0]}, {DISTANCE_BANDS[1]}) m × [{TIME_BANDS[0]}, {TIME_BANDS[1]}) days. A chain links "
        "incidents paired in that band; chains with an incident in the period are listed.",
        8,
    )
    if len(b.near_repeat):
        doc.data_table(
            ["Offence", "Incidents", "Close pairs", "Knox ratio", "p", "Chains"],
            [
                (
                    r.offence,
                    _int(r.incidents),
                    _int(r.pairs),
                    "–" if np.isnan(r.ratio) else f"{r.ratio:.2f}",
                    f"{r.p:.3f}",
                    _int(r.chains),
                )
                for r in b.near_repeat.itertuples()
            ],
            [44, 22, 24, 24, 18, 18],
        )
        doc.ln(2)
    if len(b.chains):
        doc.data_table(
            ["Offence", "Incidents", "First", "Last", "Neighbourhood"],
            [
                (r.offence, _int(r.incidents), f"{r.first:%d %b}", f"{r.last:%d %b}", r.neighbourhood)
                for r in b.chains.head(15).itertuples()
            ],
            [44, 20, 20, 20, 60],
        )
    else:
        doc.paragraph("No near-repeat chain has an incident in the period.", 9)

    doc.heading(f"6. Spikes: the 7 days to {b.day:%d %b %Y} against the 365 days before")
    doc.paragraph(
        spikes.caption(b.spike_cells, b.day, b.spike_areas, b.spike_layer)
        + " New: not a spike in the 7 days before; again: a spike then too.",
        8,
    )
    found = b.spike_cells[b.spike_cells["spike"]]
    rows = [
        (
            "Cell",
            r.cell,
            b.names.get(r.cell, ""),
            _int(r.recent),
            f"{r.expected:.2f}",
            f"{r.p:.2g}",
            f"{r.q:.2g}",
            _new(r.new),
        )
        for r in found.itertuples()
    ]
    if b.spike_areas is not None:
        rows += [
            (
                "Area",
                r.area,
                b.spike_layer,
                _int(r.recent),
                f"{r.expected:.2f}",
                f"{r.p:.2g}",
                f"{r.q:.2g}",
                _new(r.new),
            )
            for r in b.spike_areas[b.spike_areas["spike"]].itertuples()
        ]
    if rows:
        doc.data_table(
            ["Kind", "Cell or area", "Neighbourhood or layer", "7 days", "Expected", "p", "q (BH)", "New"],
            rows,
            [12, 38, 50, 14, 18, 16, 16, 14],
        )
    else:
        doc.paragraph("No cell or area is a spike.", 9)
    chain_map = figures.hex_map(
        b.study_cells,
        list(found["cell"]),
        [spikes.SPIKE_COLOUR] * len(found),
        "Spike cells (blue) and near-repeat chains (dots)",
        points=b.chain_points,
    )
    doc.ln(2)
    doc.image_row([chain_map], ["Figure 5. Spikes and the incidents of near-repeat chains."], per_row=2)

    doc.heading("7. CCTV alerts of the period")
    if b.cctv is None:
        doc.paragraph(b.cctv_note, 9)
    elif b.cctv.empty:
        doc.paragraph("No CCTV review saved in the period raised an alert.", 9)
    else:
        doc.data_table(
            ["Report", "Camera", "Reviewed", "Clip", "Peak score", "Threshold", "Alert segments"],
            [
                (
                    int(r.report_id),
                    r.camera,
                    f"{pd.Timestamp(r.created_at):%d %b %H:%M}",
                    r.clip_name,
                    f"{r.peak:.2f}",
                    f"{r.threshold:.2f}",
                    _int(r.n_segments),
                )
                for r in b.cctv.itertuples()
            ],
            [14, 36, 24, 44, 20, 20, 22],
        )
    if b.live is not None:
        doc.paragraph("Live camera alerts that started in the period:" if len(b.live) else "No live camera alert.", 9)
        if len(b.live):
            doc.data_table(
                ["Alert", "Camera", "Started", "Ended", "Peak score", "Severity", "Review"],
                [
                    (
                        int(r.alert_id),
                        r.camera,
                        f"{pd.Timestamp(r.started_at):%d %b %H:%M:%S}",
                        "open" if pd.isna(r.ended_at) else f"{pd.Timestamp(r.ended_at):%H:%M:%S}",
                        f"{r.peak:.2f}",
                        r.severity,
                        r.status,
                    )
                    for r in b.live.itertuples()
                ],
                [14, 36, 28, 20, 20, 22, 40],
            )
    return doc.to_bytes()


def export(
    con, user: User, day: date, period: int = 7, forecast_method: str = "cdna", layer: str | None = None
) -> tuple[bytes, Bulletin]:
    """The bulletin's PDF for ``user`` (``incidents`` permission), audited as ``bulletin.export``."""
    b = gather(con, user, day, period, forecast_method, layer)
    pdf = render(b)
    detail = {
        "period": period,
        "layer": layer,
        "incidents": int(b.windows["current"].iloc[0]),
        "hot_spots": len(b.hot),
        "spike_cells": int(b.spike_cells["spike"].sum()),
        "forecast": None if b.forecast is None else b.forecast.attrs.get("method"),
        "cctv_alerts": None if b.cctv is None else len(b.cctv),
        "live_alerts": None if b.live is None else len(b.live),
        "bytes": len(pdf),
    }
    audit.record(con, user.username, "bulletin.export", "bulletin", str(day), detail)
    return pdf, b
