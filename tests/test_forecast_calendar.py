"""Ontario holidays by rule and the covariate vector."""

from datetime import date

import numpy as np

from crimeviz.forecast import calendar


def test_easter_sundays():
    assert [calendar.easter(y) for y in (2019, 2021, 2024)] == [date(2019, 4, 21), date(2021, 4, 4), date(2024, 3, 31)]


def test_ontario_holidays_2021():
    days = calendar.ontario_holidays(2021)
    assert days[date(2021, 2, 15)] == "Family Day"
    assert days[date(2021, 4, 2)] == "Good Friday"
    assert days[date(2021, 5, 24)] == "Victoria Day"
    assert days[date(2021, 8, 2)] == "Civic Holiday"
    assert days[date(2021, 10, 11)] == "Thanksgiving"
    # Christmas on a Saturday, Boxing Day on a Sunday: observed Monday and Tuesday
    assert days[date(2021, 12, 27)] == "Christmas Day (observed)"
    assert days[date(2021, 12, 28)] == "Boxing Day (observed)"


def test_victoria_day_is_the_monday_before_may_25():
    assert date(2020, 5, 18) in calendar.ontario_holidays(2020)
    assert date(2015, 5, 18) in calendar.ontario_holidays(2015)


def test_covariates_one_hot_weekday_month_and_flags():
    x = calendar.covariates([date(2021, 7, 1), date(2021, 7, 2)])
    assert x.shape == (2, calendar.N_COVARIATES)
    assert x[0, 3] == 1 and x[1, 4] == 1  # Thursday, Friday
    assert x[0, 7 + 6] == 1  # July
    assert x[:, 19].tolist() == [1.0, 0.0]  # Canada Day
    assert np.allclose(x[:, :7].sum(axis=1), 1) and np.allclose(x[:, 7:19].sum(axis=1), 1)
    assert x[1, 20] > x[0, 20] > 0
