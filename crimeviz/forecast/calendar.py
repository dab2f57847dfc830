"""Calendar covariates for a forecast day: weekday, month, holiday flag and trend.

Holidays are Ontario's statutory holidays plus the Civic Holiday (widely observed
in Toronto), computed by rule; a holiday falling on a weekend also flags its
observed weekday (the next Monday, or Tuesday for Boxing Day after a Christmas
Monday).
"""

from datetime import date, timedelta

import numpy as np

EPOCH = date(2014, 1, 1)  # start of the Toronto data; the trend counts years from here
N_COVARIATES = 7 + 12 + 1 + 1


def easter(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 19 * el) // 433
    month = (h + el - 7 * m + 90) // 25
    return date(year, month, (h + el - 7 * m + 33 * month + 19) % 32)


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The ``n``-th ``weekday`` (0=Monday) of a month."""
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def ontario_holidays(year: int) -> dict[date, str]:
    """Ontario statutory holidays and the Civic Holiday, with observed weekdays."""
    may_24 = date(year, 5, 24)
    days = {
        date(year, 1, 1): "New Year's Day",
        nth_weekday(year, 2, 0, 3): "Family Day",
        easter(year) - timedelta(days=2): "Good Friday",
        may_24 - timedelta(days=may_24.weekday()): "Victoria Day",
        date(year, 7, 1): "Canada Day",
        nth_weekday(year, 8, 0, 1): "Civic Holiday",
        nth_weekday(year, 9, 0, 1): "Labour Day",
        nth_weekday(year, 10, 0, 2): "Thanksgiving",
        date(year, 12, 25): "Christmas Day",
        date(year, 12, 26): "Boxing Day",
    }
    observed = {}
    for day, name in days.items():
        if day.weekday() >= 5:
            substitute = day + timedelta(days=7 - day.weekday())
            while substitute in days or substitute in observed:
                substitute += timedelta(days=1)
            observed[substitute] = f"{name} (observed)"
    return days | observed


def is_holiday(day: date) -> bool:
    return day in ontario_holidays(day.year)


def covariates(days: list[date]) -> np.ndarray:
    """``(len(days), N_COVARIATES)`` float32: weekday one-hot, month one-hot, holiday, years since 2014 / 10."""
    out = np.zeros((len(days), N_COVARIATES), dtype=np.float32)
    holidays = set().union(*(ontario_holidays(year) for year in {day.year for day in days}))
    for row, day in enumerate(days):
        out[row, day.weekday()] = 1.0
        out[row, 7 + day.month - 1] = 1.0
        out[row, 19] = float(day in holidays)
        out[row, 20] = (day - EPOCH).days / 3652.5
    return out
