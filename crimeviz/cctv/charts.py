"""The per-frame anomaly curve of a review (plotly)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from crimeviz.cctv.scoring import Segment

ZOOM_BELOW = 0.5


def _score_axis_top(frame_scores: np.ndarray, threshold: float) -> float:
    top = max(float(np.max(frame_scores, initial=0.0)), threshold)
    return 1.05 if top >= ZOOM_BELOW else 1.25 * top


def score_figure(
    frame_scores: np.ndarray, fps: float, threshold: float, segments: list[Segment], selected: int | None = None
) -> go.Figure:
    """Score against time, the threshold dashed, alert segments shaded (``selected`` darker).

    The score axis spans 0–1, or zooms in when the curve and threshold stay below ``ZOOM_BELOW``
    (the demo model scores plain footage around 0.01, which would be a flat line).
    """
    seconds = np.arange(len(frame_scores)) / fps
    fig = go.Figure(
        go.Scatter(
            x=seconds,
            y=frame_scores,
            mode="lines",
            name="anomaly score",
            line={"color": "#1f77b4", "width": 2},
            hovertemplate="%{x:.1f} s: %{y:.3f}<extra></extra>",
        )
    )
    for i, s in enumerate(segments):
        fig.add_vrect(
            x0=s.start_s, x1=s.end_s, fillcolor="#d62728", line_width=0, opacity=0.3 if i == selected else 0.12
        )
    if segments:
        fig.add_trace(
            go.Scatter(
                x=[s.peak_s for s in segments],
                y=[s.peak for s in segments],
                mode="markers+text",
                text=[f"#{i + 1}" for i in range(len(segments))],
                textposition="top center",
                marker={"color": "#d62728", "size": 8},
                name="segment peaks",
                hovertemplate="peak %{y:.3f} at %{x:.1f} s<extra></extra>",
            )
        )
    fig.add_hline(
        y=threshold,
        line_dash="dash",
        line_color="#d62728",
        annotation_text=f"threshold {threshold:.2f}",
        annotation_position="top left",
    )
    fig.update_layout(
        height=300,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        showlegend=False,
        xaxis_title="time in clip (s)",
        yaxis_title="anomaly score",
        yaxis_range=[0, _score_axis_top(frame_scores, threshold)],
    )
    return fig
