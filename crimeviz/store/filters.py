"""The analyst's incident filter and its translation to a parameterised WHERE clause."""

from dataclasses import dataclass, replace
from datetime import date, timedelta

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class IncidentFilter:
    """Which incidents to show. ``None`` for a list means "all"; dates are inclusive.

    ``hours`` is an inclusive (first, last) hour-of-day range and may wrap past
    midnight, e.g. (22, 5) for a night shift. ``weekdays`` uses 0=Monday … 6=Sunday.

    ``area_layer`` and ``areas`` keep the incidents lying in the named areas of one area layer
    (beats, divisions, wards; see ``crimeviz.store.areas``), as the layer's join table assigns them;
    ``areas`` of None means every incident, whatever its area.
    """

    start: date
    end: date
    offences: tuple[str, ...] | None = None
    premises: tuple[str, ...] | None = None
    neighbourhoods: tuple[str, ...] | None = None
    hours: tuple[int, int] = (0, 23)
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)
    area_layer: str | None = None
    areas: tuple[str, ...] | None = None

    def problems(self) -> list[str]:
        """What is wrong with this filter, in words for the analyst (empty if fine)."""
        out = []
        if self.end < self.start:
            out.append(f"the end date {self.end} is before the start date {self.start}")
        if not all(0 <= h <= 23 for h in self.hours):
            out.append("hours must lie between 0 and 23")
        if not self.weekdays:
            out.append("choose at least one weekday")
        for name in ("offences", "premises", "neighbourhoods"):
            if getattr(self, name) == ():
                out.append(f"choose at least one of {name}")
        if self.areas is not None and not self.area_layer:
            out.append("areas need the layer they belong to")
        if self.areas == ():
            out.append("choose at least one area")
        return out

    def with_dates(self, start: date, end: date) -> "IncidentFilter":
        return replace(self, start=start, end=end)

    def with_areas(self, layer: str | None, names) -> "IncidentFilter":
        """This filter keeping only the incidents in the areas ``names`` of ``layer`` (``names`` None: any area)."""
        if names is None:
            return replace(self, area_layer=None, areas=None)
        return replace(self, area_layer=layer, areas=tuple(names))


def _in_list(column: str, values) -> tuple[str, list]:
    marks = ", ".join("?" for _ in values)
    return f"{column} IN ({marks})", list(values)


def where(f: IncidentFilter) -> tuple[str, list]:
    """``(sql, params)`` for ``WHERE`` over the incidents table; all values are bound."""
    clauses = ["occurred_at >= ?", "occurred_at < ?"]
    params: list = [f.start, f.end + timedelta(days=1)]
    for column, values in (("offence", f.offences), ("premises", f.premises), ("neighbourhood", f.neighbourhoods)):
        if values is not None:
            sql, vals = _in_list(column, values) if values else ("FALSE", [])
            clauses.append(sql)
            params += vals
    first, last = f.hours
    if (first, last) != (0, 23):
        joiner = "AND" if first <= last else "OR"
        clauses.append(f"(hour(occurred_at) >= ? {joiner} hour(occurred_at) <= ?)")
        params += [first, last]
    if tuple(sorted(set(f.weekdays))) != tuple(range(7)):
        sql, vals = _in_list("isodow(occurred_at) - 1", sorted(set(f.weekdays)))
        clauses.append(sql if vals else "FALSE")
        params += vals
    if f.areas is not None:
        if f.areas:
            sql, vals = _in_list("area", f.areas)
            clauses.append(f"id IN (SELECT incident_id FROM incident_areas WHERE layer = ? AND {sql})")
            params += [f.area_layer, *vals]
        else:
            clauses.append("FALSE")
    return " AND ".join(clauses), params
