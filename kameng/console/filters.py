"""The report filters (dates and plan) read from what an operator typed: the dashboard's query string, its CSV
export and `manage.py export_report`. A date must be a real one inside a sane range, so that a typo or a probe
(9999-12-31, 0001-01-01) gets a clear message instead of an overflow deep in a query."""

from datetime import date, timedelta

from kameng.console.error_codes import ConsoleErrorCode
from kameng.console.selectors import Filters, default_filters
from kameng.core import clock
from kameng.core.errors import DomainError
from kameng.membership.models import Plan

EARLIEST = date(2000, 1, 1)  # before the shop, before any card shop
YEARS_AHEAD = 10  # reports on renewals already scheduled look forward, but not past this
MAX_RANGE = timedelta(days=366)


def latest() -> date:
    """The last date a filter may name: today in Asia/Shanghai plus ten years (29 February → 28 February)."""
    today = clock.now().date()
    try:
        return today.replace(year=today.year + YEARS_AHEAD)
    except ValueError:
        return today.replace(year=today.year + YEARS_AHEAD, day=28)


def _date(text: str, fallback: date) -> date:
    text = (text or "").strip()
    if not text:
        return fallback
    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise DomainError(ConsoleErrorCode.BAD_DATE, value=text[:32]) from None
    if not EARLIEST <= value <= latest():
        raise DomainError(
            ConsoleErrorCode.DATE_OUT_OF_RANGE, value=text[:32], earliest=EARLIEST, latest=latest()
        )
    return value


def report_filters(
    *, start: str = "", end: str = "", plan: str = "", max_range: timedelta | None = MAX_RANGE
) -> Filters:
    """The filters asked for, each date YYYY-MM-DD within EARLIEST … latest(), the range at most `max_range` (a
    year for pages; the command line may ask for more); a blank date means that end of the last 30 days; an
    unknown plan means all plans. Raises DomainError (422) otherwise."""
    default = default_filters()
    first, last = _date(start, default.start), _date(end, default.end)
    if last < first:
        raise DomainError(ConsoleErrorCode.DATES_REVERSED, start=first, end=last)
    if max_range is not None and last - first > max_range:
        raise DomainError(ConsoleErrorCode.RANGE_TOO_WIDE, days=max_range.days)
    if plan and not Plan.objects.filter(code=plan).exists():
        plan = ""
    return Filters(start=first, end=last, plan=plan)
