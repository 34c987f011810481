"""Calendar arithmetic for membership periods: months, not 30-day blocks, clamped to the month's last day."""

import calendar
from datetime import datetime

from kameng.core import clock
from kameng.membership.models import PERIOD_MONTHS


def add_months(moment: datetime, months: int) -> datetime:
    """Jan 31 + 1 month = Feb 28 (29 in leap years); + 2 months = Mar 31. Computed in Shanghai local time."""
    local = clock.local(moment)
    month_index = local.month - 1 + months
    year, month = local.year + month_index // 12, month_index % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day)


def period_bounds(*, anchor_at: datetime, period: str, index: int) -> tuple[datetime, datetime]:
    """The index-th period after the anchor (0 = the one starting at the anchor)."""
    months = PERIOD_MONTHS[period]
    return add_months(anchor_at, months * index), add_months(anchor_at, months * (index + 1))
