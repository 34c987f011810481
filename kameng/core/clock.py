"""The one clock of the system: real time in Asia/Shanghai, plus the sandbox test clock's offset.

Code asks `now()`, never `timezone.now()`, so that moving the sandbox clock moves renewals, expiries and reminders
for every process at once. The offset is persisted; each process re-reads it at most once a second.
"""

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from kameng.core.models import TestClock

SHANGHAI = ZoneInfo("Asia/Shanghai")
_CACHE_SECONDS = 1.0
_cached: tuple[float, int] | None = None  # (monotonic time read, offset seconds)


def _offset_seconds() -> int:
    global _cached
    if not settings.KAMENG_SANDBOX:
        return 0
    stamp = time.monotonic()
    if _cached is not None and stamp - _cached[0] < _CACHE_SECONDS:
        return _cached[1]
    offset = TestClock.objects.filter(pk=1).values_list("offset_seconds", flat=True).first() or 0
    _cached = (stamp, offset)
    return offset


def forget_cached_offset() -> None:
    global _cached
    _cached = None


def now() -> datetime:
    """Aware current time in Asia/Shanghai, moved by the sandbox test clock."""
    return (timezone.now() + timedelta(seconds=_offset_seconds())).astimezone(SHANGHAI)


def advance(*, seconds: int) -> int:
    """Moves the sandbox clock forward; returns the new total offset. Time never goes backwards."""
    if not settings.KAMENG_SANDBOX:
        raise PermissionError("the test clock exists only in the sandbox")
    if seconds < 0:
        raise ValueError("the clock only moves forward")
    from django.db import transaction
    from django.db.models import F

    with transaction.atomic():
        TestClock.objects.get_or_create(pk=1)
        TestClock.objects.filter(pk=1).update(offset_seconds=F("offset_seconds") + seconds)
        offset = TestClock.objects.get(pk=1).offset_seconds
    forget_cached_offset()
    return offset


def local(moment: datetime) -> datetime:
    if timezone.is_naive(moment):
        raise ValueError("naive datetimes are not allowed")
    return moment.astimezone(SHANGHAI)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with the +08:00 offset, as the API promises."""
    return None if moment is None else local(moment).isoformat()
