"""What the Forecast page shows: the day's hotspot map, the backtest table and curves, the model card."""

import json
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from crimeviz import config
from crimeviz.explore import maps
from crimeviz.forecast import bootstrap
from crimeviz.forecast.checkpoint import DEFAULT_CHECKPOINT
from crimeviz.forecast.frames import ALL
from crimeviz.forecast.metrics import COVERAGES, coverage_key, flagged
from crimeviz.forecast.predict import METHODS
from crimeviz.forecast.train import config_for_data, train_command
from crimeviz.store import grid

MODEL_DIR = DEFAULT_CHECKPOINT.parent
BACKTEST = MODEL_DIR / "backtest_2021.json"
MODEL_CARD = MODEL_DIR / "MODEL_CARD.md"
RETRAINED = MODEL_DIR / "retrained_h3r8.pt"


@lru_cache(maxsize=2)
def backtest(path: Path = BACKTEST) -> dict:
    """The committed backtest (``forecast evaluate`` output) for the test year."""
    return json.loads(Path(path).read_text())


def method_name(method: str, report: dict | None = None) -> str:
    """The name a method goes by on the page (the backtest's own label for a method no longer offered)."""
    return METHODS.get(method) or (report or {}).get("label", method)


def backtest_table(result: dict, group: str = ALL) -> pd.DataFrame:
    """One row per method: PAI (mean over days) at each coverage, hit rates and Poisson log-likelihood."""
    rows = []
    for method, m in result["groups"][group]["methods"].items():
        row = {"method": method_name(method, m)}
        row |= {f"PAI {k}": m["pai"][k]["mean"] for k in m["pai"]}
        row |= {f"hit rate {k}": m["hit_rate"][k]["mean"] for k in ("5%", "10%", "20%") if k in m["hit_rate"]}
        row["log-lik / cell-day"] = m["poisson"]["loglik_per_cell_day"]
        rows.append(row)
    return pd.DataFrame(rows).sort_values("PAI 5%", ascending=False, ignore_index=True)


def shift_result(result: dict, shift: str | None) -> dict:
    """The backtest of one shift (``{"groups": …}``, as the whole day's), or of the whole day for None.

    None when the backtest has no such shift (it was run before the shift was configured)."""
    if shift is None:
        return result
    return result.get("shifts", {}).get(shift)


def bootstrap_table(result: dict, group: str = ALL) -> pd.DataFrame:
    """One row per method: its PAI difference to the best baseline at 5% and 10%, with the 95% interval."""
    comparison = result["groups"][group].get("bootstrap")
    if not comparison:
        return pd.DataFrame()
    methods = result["groups"][group]["methods"]
    rows = []
    for method, by_coverage in comparison["methods"].items():
        row = {"method": method_name(method, methods.get(method))}
        for key, r in by_coverage.items():
            best = comparison["best_baseline"][key]
            row[f"vs best at {key}"] = method_name(best, methods.get(best))
            row[f"ΔPAI {key}"] = r["diff"]
            row[f"{key} interval"] = f"{r['low']:+.2f} to {r['high']:+.2f}"
        rows.append(row)
    return pd.DataFrame(rows)


def bootstrap_verdicts(result: dict, group: str = ALL) -> list[str]:
    """A sentence per learned method: is it really better than the best baseline (bootstrap interval > 0)?"""
    comparison = result["groups"][group].get("bootstrap")
    if not comparison:
        return []
    methods = result["groups"][group]["methods"]
    names = {m: method_name(m, methods.get(m)) for m in methods}
    return [bootstrap.verdict(comparison, m, names) for m in methods if bootstrap.learned(m)]


def curve_figure(result: dict, group: str, metric: str) -> go.Figure:
    """``metric`` ("hit_rate" or "pai") against area coverage, one line per method."""
    fig = go.Figure()
    for method, m in result["groups"][group]["methods"].items():
        keys = [k for k in map(coverage_key, COVERAGES) if k in m[metric]]
        fig.add_trace(
            go.Scatter(
                x=[float(k[:-1]) for k in keys],
                y=[m[metric][k]["mean"] for k in keys],
                mode="lines+markers",
                name=method_name(method, m),
                line=dict(width=4 if method == "cdna" else 1.5),
            )
        )
    label = {"hit_rate": "Hit rate", "pai": "PAI"}[metric]
    fig.update_layout(
        height=340,
        margin=dict(l=10, r=10, t=40, b=10),
        title=f"{label} vs area flagged",
        xaxis_title="% of the valid area flagged",
        yaxis_title=label,
        legend=dict(orientation="h", y=-0.25),
    )
    return fig


def flag_top(forecast: pd.DataFrame, coverage: float) -> pd.DataFrame:
    """The forecast with ``area_km2``, ``weight`` (the share of each cell flagged, as in the backtest:
    hottest cells until their area reaches ``coverage``, ties split) and ``flagged`` (weight > 0)."""
    out = forecast.copy()
    out["area_km2"] = grid.cell_area_km2([grid.to_int(c) for c in out["cell"]])
    out["weight"] = flagged(out["intensity"].to_numpy()[None, :], out["area_km2"].to_numpy(), coverage)[0]
    out["flagged"] = out["weight"] > 0
    return out


def hotspot_layer(flagged: pd.DataFrame, actual: pd.DataFrame | None = None):
    """Hexes coloured by expected incidents, flagged cells outlined; legend items.

    ``actual`` (``cell``, ``n`` at the same resolution) adds that day's counts to the tooltips.
    """
    frame = flagged.copy()
    breaks = maps.class_breaks(frame["intensity"].to_numpy())
    colours = maps.colours_for(frame["intensity"].to_numpy(), breaks)
    frame["color"] = [c[:3] + [220 if f else 70] for c, f in zip(colours, frame["flagged"])]
    frame["expected"] = frame["intensity"].map("{:.2f}".format)
    frame["hotspot"] = np.where(frame["flagged"], "yes", "no")
    fields = {"Cell": "cell", "Expected incidents": "expected", "Rank": "rank", "Flagged hotspot": "hotspot"}
    if actual is not None:
        frame["actual"] = frame["cell"].map(actual.set_index("cell")["n"]).fillna(0).astype(int)
        fields["Actual incidents"] = "actual"
    frame["tooltip"] = maps.tooltip_rows(frame, fields)
    return maps.hex_layer(frame, "forecast-hexes", opacity=0.85), maps.legend(breaks, "expected", "{:.2f}")


def day_score(flagged: pd.DataFrame, actual: pd.DataFrame) -> dict:
    """Hit rate and PAI of the flagged cells against the day's actual counts (``cell``, ``n``)."""
    n = flagged["cell"].map(actual.set_index("cell")["n"]).fillna(0)
    total = int(actual["n"].sum())
    hits = float((n * flagged["weight"]).sum())
    area = float((flagged["area_km2"] * flagged["weight"]).sum() / flagged["area_km2"].sum())
    rate = hits / total if total else float("nan")
    return {
        "incidents": total,
        "hits": hits,
        "hit_rate": rate,
        "area_share": area,
        "pai": rate / area if total else float("nan"),
        "outside_grid": total - int(n.sum()),
    }


def retrain_command(first: date, last: date) -> str:
    """The shell lines that train CDNA on the store's data (``first``..``last``) and run the app with it."""
    out = RETRAINED.relative_to(config.ROOT)
    return f"{train_command(config_for_data(first, last), out)}\nCRIMEVIZ_CDNA_CHECKPOINT={out} make run"


def next_day(last: date) -> date:
    return last + timedelta(days=1)
