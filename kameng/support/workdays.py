"""Working days in China: public holidays and make-up working days (调休) from the maintained `chinesecalendar`
package; days the operator entered in the admin win; for a year the package does not know yet, weekdays, with a
warning to the operators."""

import logging
from datetime import date, datetime, time, timedelta

import chinese_calendar

from kameng.core import clock
from kameng.support.models import CalendarDay

log = logging.getLogger(__name__)


def _overrides(first: date, last: date) -> dict[date, bool]:
    return dict(CalendarDay.objects.filter(date__range=(first, last)).values_list("date", "is_workday"))


def unknown_years(first: date, last: date) -> list[int]:
    """Years in the range that the holiday package has no data for (operators should enter their holidays)."""
    missing = []
    for year in range(first.year, last.year + 1):
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
        except NotImplementedError:
            missing.append(year)
    return missing


def is_workday(day: date, overrides: dict[date, bool] | None = None) -> bool:
    if overrides is not None and day in overrides:
        return overrides[day]
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return day.weekday() < 5


def add_working_days(moment: datetime, days: int) -> datetime:
    """The end (23:59:59, Shanghai) of the `days`-th working day after the day of `moment`."""
    day = clock.local(moment).date()
    overrides = _overrides(day, day + timedelta(days=days * 4 + 30))
    missing = unknown_years(day, day + timedelta(days=days * 4 + 30))
    if missing:
        log.warning(
            "holiday calendar has no data for %s: counting weekdays plus the admin's calendar days", missing
        )
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_workday(day, overrides):
            counted += 1
    return datetime.combine(day, time(23, 59, 59), tzinfo=clock.SHANGHAI)
