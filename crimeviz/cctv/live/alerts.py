"""Snippet scores -> alert segments: hysteresis, minimum duration, cooldown.

Pure logic over (window start, window end, score) triples, after Frigate's review
maintainer (``frigate/review/maintainer.py``), which turns activity into review items
with a severity:

- the level compared with the camera's threshold is the median of the last
  ``hysteresis_n`` snippet scores (nothing is decided before there are that many), so
  one stray snippet neither opens nor closes an alert;
- a segment opens when the level reaches the threshold; it starts at the earliest
  window among those last ``hysteresis_n`` that scored at or above it;
- it is a ``detection`` until it has lasted ``min_duration_s``, then an ``alert`` (the
  severity that pings); with no minimum it is an alert at once;
- it closes at the end of its last window above the threshold, when the level falls below;
- a level that reaches the threshold again within ``cooldown_s`` of the end reopens the
  same segment (no second ping).

The tracker can be started with the camera's last segment (``last``), so a restarted
monitor continues an interrupted alert instead of opening a duplicate.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass

ALERT, DETECTION = "alert", "detection"


@dataclass
class Segment:
    """One alert segment; ``end`` is None while open. Times are epoch seconds."""

    start: float
    last_above: float
    peak: float
    peak_at: float
    severity: str
    end: float | None = None
    alert_id: int | None = None

    @property
    def is_open(self) -> bool:
        return self.end is None


@dataclass(frozen=True)
class Event:
    """``kind``: open, promote (detection -> alert), peak (new highest score), close, reopen."""

    kind: str
    segment: Segment


class AlertTracker:
    def __init__(
        self,
        threshold: float,
        hysteresis_n: int = 3,
        min_duration_s: float = 0.0,
        cooldown_s: float = 30.0,
        last: Segment | None = None,
    ):
        self.threshold, self.min_duration_s, self.cooldown_s = threshold, min_duration_s, cooldown_s
        self.recent: deque[tuple[float, float, float]] = deque(maxlen=hysteresis_n)
        self.current: Segment | None = last if last is not None and last.is_open else None
        self.last: Segment | None = last if last is not None and not last.is_open else None

    def level(self) -> float:
        return statistics.median(s for _, _, s in self.recent) if self.recent else 0.0

    def update(self, start: float, end: float, score: float) -> list[Event]:
        """One scored window -> what happened to the camera's segment."""
        self.recent.append((start, end, float(score)))
        events: list[Event] = []
        if len(self.recent) < self.recent.maxlen:  # a median of fewer scores would let one stray snippet through
            return events
        above = self.level() >= self.threshold
        seg = self.current
        if seg is None:
            if not above:
                return events
            if self.last is not None and start - self.last.end <= self.cooldown_s:
                seg, self.last = self.last, None
                seg.end = None
                events.append(Event("reopen", seg))
            else:
                high = [(s, e, v) for s, e, v in self.recent if v >= self.threshold]
                top = max(high, key=lambda w: w[2])
                severity = ALERT if self.min_duration_s <= 0 else DETECTION
                seg = Segment(high[0][0], end, top[2], (top[0] + top[1]) / 2, severity)
                events.append(Event("open", seg))
            self.current = seg
        if score > seg.peak:
            seg.peak, seg.peak_at = float(score), (start + end) / 2
            if not events:
                events.append(Event("peak", seg))
        if above:
            seg.last_above = end
            if seg.severity == DETECTION and end - seg.start >= self.min_duration_s:
                seg.severity = ALERT
                events.append(Event("promote", seg))
        else:
            seg.end = seg.last_above
            self.current, self.last = None, seg
            events.append(Event("close", seg))
        return events

    def stop(self, at: float) -> list[Event]:
        """Closes an open segment when the camera stops (at its last window above the threshold, or ``at``)."""
        seg = self.current
        if seg is None:
            return []
        seg.end = min(at, seg.last_above) if seg.last_above else at
        self.current, self.last = None, seg
        return [Event("close", seg)]
