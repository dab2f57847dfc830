"""Time playback of the Map: incidents per cell (or area) step by step, on one colour scale.

A :class:`Playback` holds the counts of every step (a day or a week from the filter's first day)
and class breaks computed once over all steps' counts (mapclassify quantiles, as
:func:`crimeviz.explore.maps.class_breaks`), so a colour means the same count in every frame and
a quiet week looks quiet. The page draws one step at a time as a pydeck layer; the exports render
every step with matplotlib (no basemap tiles: the cells or areas on a blank background, the date
in the corner) into an animated GIF (Pillow) or an H.264 MP4 (ffmpeg), audited.
"""

import io
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import h3
import numpy as np
import pandas as pd
import pydeck as pdk

from crimeviz.explore import maps
from crimeviz.store import audit
from crimeviz.store.filters import IncidentFilter

STEPS = {"day": 1, "week": 7}
MAX_STEPS = 800  # frames in one playback: about two years by day; longer runs go by week
EMPTY = (235, 235, 235)


@dataclass(frozen=True, eq=False)
class Playback:
    """Counts per step: ``counts`` has ``step`` (0…``n_steps``−1), ``key`` (cell hex or area name) and ``n``."""

    step: str
    start: date
    end: date
    kind: str  # "hexagons" or "areas"
    counts: pd.DataFrame
    breaks: np.ndarray = field(default_factory=lambda: np.array([0.0]))

    @property
    def step_days(self) -> int:
        return STEPS[self.step]

    @property
    def n_steps(self) -> int:
        return (self.end - self.start).days // self.step_days + 1

    def period(self, k: int) -> tuple[date, date]:
        """First and last day of step ``k`` (the last step stops at the filter's end)."""
        first = self.start + timedelta(days=k * self.step_days)
        return first, min(first + timedelta(days=self.step_days - 1), self.end)

    def label(self, k: int) -> str:
        """The date readout of step ``k``: "Mon 01 Mar 2021" or "01 Mar – 07 Mar 2021"."""
        first, last = self.period(k)
        if first == last:
            return f"{first:%a %d %b %Y}"
        return f"{first:%d %b} – {last:%d %b %Y}"

    def frame(self, k: int) -> pd.DataFrame:
        """``key`` and ``n`` of step ``k`` (only keys with incidents), busiest first."""
        rows = self.counts[self.counts["step"] == k]
        return rows[["key", "n"]].sort_values("n", ascending=False, ignore_index=True)

    def totals(self) -> np.ndarray:
        """Incidents per step, ``(n_steps,)``."""
        out = np.zeros(self.n_steps, dtype=int)
        np.add.at(out, self.counts["step"].to_numpy(int), self.counts["n"].to_numpy(int))
        return out

    def colours(self, values) -> list[list[int]]:
        """RGBA on the playback's fixed scale (the same count gets the same colour in every step)."""
        return maps.colours_for(np.asarray(values, dtype=float), self.breaks)

    @property
    def unit(self) -> str:
        return f"incidents per {self.step}"

    def legend(self) -> list[tuple[str, str]]:
        return maps.legend(self.breaks, self.unit, values=self.counts["n"].to_numpy())


def check_run(f: IncidentFilter, step: str) -> str | None:
    """Why ``f``'s dates cannot be played at ``step`` (too many frames), or None."""
    if step not in STEPS:
        return f"the step is a day or a week, not {step!r}"
    frames = (f.end - f.start).days // STEPS[step] + 1
    if frames > MAX_STEPS:
        return (
            f"{frames:,} {step}s are too many frames for a playback (at most {MAX_STEPS}): "
            "play by week, or shorten the dates in the sidebar"
        )
    return None


def build(counts: pd.DataFrame, f: IncidentFilter, step: str, kind: str = "hexagons", key: str = "cell") -> Playback:
    """A playback of ``counts`` (``step``, ``key`` column, ``n``, as the store's ``*_counts_by_step`` give)."""
    problem = check_run(f, step)
    if problem:
        raise ValueError(problem)
    frame = counts.rename(columns={key: "key"})[["step", "key", "n"]].copy()
    frame = frame[frame["key"].notna()]
    frame["step"] = frame["step"].astype(int)
    frame["n"] = frame["n"].astype(int)
    return Playback(step, f.start, f.end, kind, frame.reset_index(drop=True), maps.class_breaks(frame["n"].to_numpy()))


def hex_layer(pb: Playback, k: int, neighbourhoods: dict[str, str] | None = None) -> pdk.Layer:
    """Step ``k``'s cells on the fixed scale; tooltips name the cell, its neighbourhood, the count and the date."""
    frame = pb.frame(k).rename(columns={"key": "cell"})
    frame["color"] = pb.colours(frame["n"])
    frame["when"] = pb.label(k)
    fields = {"Cell": "cell", "Incidents": "n", "When": "when"}
    if neighbourhoods is not None:
        frame["hood"] = frame["cell"].map(neighbourhoods).fillna("(none recorded)")
        fields = {"Neighbourhood": "hood", **fields}
    frame["tooltip"] = maps.tooltip_rows(frame, fields)
    return maps.hex_layer(frame, "playback-hexes", opacity=0.85)


def area_layer(pb: Playback, k: int, features: list[dict]) -> pdk.Layer:
    """Step ``k`` per area: ``features`` are the layer's GeoJSON features (``properties.name``)."""
    counts = dict(zip(*pb.frame(k)[["key", "n"]].to_numpy().T))
    out = []
    for feature in features:
        name = feature["properties"]["name"]
        n = int(counts.get(name, 0))
        colour = pb.colours([n])[0] if n else [*EMPTY, 120]
        props = {"name": name, "n": n, "color": colour}
        props["tooltip"] = maps.tooltip_rows(pd.DataFrame([props | {"when": pb.label(k)}]), _AREA_FIELDS)[0]
        out.append({"type": "Feature", "geometry": feature["geometry"], "properties": props})
    return pdk.Layer(
        "GeoJsonLayer",
        {"type": "FeatureCollection", "features": out},
        id="playback-areas",
        get_fill_color="properties.color",
        get_line_color=[60, 60, 90, 220],
        line_width_min_pixels=1,
        pickable=True,
        stroked=True,
        filled=True,
    )


_AREA_FIELDS = {"Area": "name", "Incidents": "n", "When": "when"}


# --- rendering for the GIF and MP4 exports ---------------------------------------------------


def hex_shapes(cells) -> dict[str, np.ndarray]:
    """``{cell: (6, 2) lon/lat ring}`` for the cells to draw."""
    return {c: np.array([(lon, lat) for lat, lon in h3.cell_to_boundary(c)]) for c in cells}


def area_shapes(features: list[dict]) -> dict[str, list[np.ndarray]]:
    """``{area: [rings]}``: the lon/lat exterior of each polygon of the layer's GeoJSON ``features``."""
    out = {}
    for feature in features:
        geometry = feature["geometry"]
        polygons = {"Polygon": [geometry["coordinates"]], "MultiPolygon": geometry["coordinates"]}.get(
            geometry["type"], []
        )
        out[feature["properties"]["name"]] = [np.asarray(p[0], dtype=float)[:, :2] for p in polygons if p]
    return out


def render_frames(pb: Playback, shapes: dict, title: str = "", size_px: int = 640):
    """Every step drawn with matplotlib on the fixed scale: yields RGB ``(h, w, 3)`` uint8 arrays.

    ``shapes`` maps each key to a ring (hexagons) or a list of rings (areas); keys without a
    shape are not drawn. One figure is reused: only colours and the date change between frames.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Patch

    keys, polys = [], []
    for key, value in shapes.items():
        for ring in value if isinstance(value, list) else [value]:
            keys.append(key)
            polys.append(ring)
    if not polys:
        raise ValueError("nothing to draw: no cells or areas")
    allpts = np.concatenate(polys)
    lat0 = np.radians(allpts[:, 1].mean())
    dpi = 100
    fig = plt.figure(figsize=(size_px / dpi, size_px / dpi), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_aspect(1 / np.cos(lat0))  # equirectangular at the city's latitude: shapes keep their form
    pad = 0.03 * max(np.ptp(allpts[:, 0]), np.ptp(allpts[:, 1]))
    ax.set_xlim(allpts[:, 0].min() - pad, allpts[:, 0].max() + pad)
    ax.set_ylim(allpts[:, 1].min() - pad, allpts[:, 1].max() + 4 * pad)
    empty = np.array([*EMPTY, 255]) / 255
    collection = PolyCollection(polys, facecolors=[empty] * len(polys), edgecolors=(0.6, 0.6, 0.6, 0.5), linewidths=0.2)
    ax.add_collection(collection)
    readout = ax.text(0.02, 0.98, "", transform=ax.transAxes, va="top", ha="left", fontsize=13, weight="bold")
    ax.text(0.02, 0.925, title, transform=ax.transAxes, va="top", ha="left", fontsize=8, color="0.3")
    ax.legend(
        handles=[Patch(color=colour, label=text) for text, colour in _mpl_legend(pb)],
        loc="lower right",
        fontsize=7,
        frameon=True,
        title=pb.unit,
        title_fontsize=7,
    )
    position = {key: [] for key in shapes}
    for i, key in enumerate(keys):
        position[key].append(i)
    try:
        for k in range(pb.n_steps):
            colours = np.tile(empty, (len(polys), 1))
            frame = pb.frame(k)
            frame = frame[frame["key"].isin(position)]
            rgba = np.asarray(pb.colours(frame["n"]), dtype=float) / 255 if len(frame) else np.zeros((0, 4))
            for key, colour in zip(frame["key"], rgba):
                colours[position[key]] = [*colour[:3], 1.0]
            collection.set_facecolors(colours)
            readout.set_text(pb.label(k))
            fig.canvas.draw()
            yield np.asarray(fig.canvas.buffer_rgba())[:, :, :3].copy()
    finally:
        plt.close(fig)


def _mpl_legend(pb: Playback) -> list[tuple[str, tuple]]:
    out = []
    for text, css in pb.legend():
        rgb = [int(v) / 255 for v in css[4:-1].split(",")]
        out.append(
            (text.removesuffix(f" {pb.unit}").removesuffix(f" {pb.unit.replace('incidents', 'incident')}"), tuple(rgb))
        )
    return out


def gif_bytes(pb: Playback, shapes: dict, fps: float = 4.0, title: str = "") -> bytes:
    """The playback as an animated GIF (Pillow; loops forever, ``fps`` frames a second).

    One 64-colour palette serves every frame without dithering: the class colours, the empty
    grey, white and black exactly, and the first frame's median-cut colours (edges, text) for the
    rest. Quantising against a fixed palette is ~10x faster than a palette per frame.
    """
    from PIL import Image

    frames, palette = [], None
    for array in render_frames(pb, shapes, title):
        image = Image.fromarray(array)
        if palette is None:
            palette = _gif_palette(image, [tuple(c[:3]) for c in pb.colours(pb.breaks)])
        frames.append(image.quantize(palette=palette, dither=Image.Dither.NONE))
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=int(1000 / fps), loop=0)
    return out.getvalue()


def _gif_palette(first, classes: list[tuple[int, int, int]], size: int = 64):
    """A palette image: the class colours, the empty grey, white and black exactly, then the first
    frame's median-cut colours (edges, text) unless close to one of those (Pillow's nearest-colour
    lookup is approximate, and a near twin would take the exact colour's pixels)."""
    from PIL import Image

    exact = [*classes, EMPTY, (255, 255, 255), (0, 0, 0)]
    flat = first.quantize(colors=size - len(exact), method=Image.Quantize.MEDIANCUT).getpalette()
    cut = [tuple(flat[i : i + 3]) for i in range(0, len(flat), 3)]
    near = np.array(exact, dtype=int)
    rest = [c for c in cut if np.abs(near - np.array(c)).max(axis=1).min() > 24]
    palette = Image.new("P", (1, 1))
    palette.putpalette([v for colour in exact + rest[: size - len(exact)] for v in colour])
    return palette


def ffmpeg() -> str | None:
    """The ffmpeg program, if installed (the MP4 export needs it)."""
    return shutil.which("ffmpeg")


def mp4_bytes(pb: Playback, shapes: dict, fps: float = 4.0, title: str = "") -> bytes:
    """The playback as an H.264 MP4 (yuv420p, plays in browsers and office software), encoded by ffmpeg."""
    program = ffmpeg()
    if program is None:
        raise RuntimeError("the MP4 export needs ffmpeg, which is not installed on the server (the GIF works)")
    with tempfile.TemporaryDirectory(prefix="crimeviz-playback-") as folder:
        target = Path(folder) / "playback.mp4"
        frames = render_frames(pb, shapes, title)
        first = next(frames)
        h, w = first.shape[:2]
        command = [program, "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}"]
        command += ["-r", f"{fps:g}", "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart"]
        process = subprocess.Popen([*command, str(target)], stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            process.stdin.write(first.tobytes())
            for frame in frames:
                process.stdin.write(frame.tobytes())
        finally:
            process.stdin.close()
            error = process.stderr.read().decode(errors="replace").strip()
            process.wait()
        if process.returncode != 0:
            raise RuntimeError(
                f"ffmpeg could not encode the video ({error.splitlines()[-1] if error else 'no reason given'})"
            )
        return target.read_bytes()


def export(con, username: str, pb: Playback, shapes: dict, fmt: str, fps: float, title: str, what: str) -> bytes:
    """The playback as ``fmt`` ("gif" or "mp4"), audited as ``map.export.playback_<fmt>`` with the
    steps, the step length and the filter (``what``)."""
    data = (gif_bytes if fmt == "gif" else mp4_bytes)(pb, shapes, fps, title)
    audit.record(
        con,
        username,
        f"map.export.playback_{fmt}",
        "playback",
        pb.kind,
        {"steps": pb.n_steps, "step": pb.step, "bytes": len(data), "filter": what},
    )
    return data
