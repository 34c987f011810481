"""The one clock of the system: real time in Asia/Shanghai, plus the sandbox test clock's offset.

Code asks `now()`, never `timezone.now()`, so that moving the sandbox clock moves renewals, expiries and reminders
for every process at once. The offset is persisted in the database (`TestClock`), and read:

* once per unit of work: a request (`ClockPerRequest`, a middleware) or a Celery task (`task_prerun`) opens a unit,
  and the first `now()` in it reads the offset, which every later `now()` of that unit reuses. A unit that starts
  after `POST /api/v1/sandbox/clock` has answered therefore sees the new time, in whatever process it runs, and a
  request never reads the offset more than once;
* outside any unit (a shell, a management command, the tests' own code), from a short per-process cache that
  `advance` in the same process forgets at once.

Only with the sandbox on: in production the offset is 0 and nothing is read.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from kameng.core.models import TestClock

SHANGHAI = ZoneInfo("Asia/Shanghai")
_CACHE_SECONDS = 1.0
_cached: tuple[float, int] | None = None  # outside a unit: (monotonic time read, offset seconds)


class _Unit:
    """One request's or task's view of the offset: unread until its first `now()`, then fixed for the unit.
    A mutable holder (not the value itself in the context variable), so that code running in a copied context
    (sync_to_async, a thread started with the context) still shares the unit's single read."""

    __slots__ = ("offset",)

    def __init__(self) -> None:
        self.offset: int | None = None


_unit: ContextVar[_Unit | None] = ContextVar("kameng_clock_unit", default=None)


def _read_offset() -> int:
    return TestClock.objects.filter(pk=1).values_list("offset_seconds", flat=True).first() or 0


def _offset_seconds() -> int:
    global _cached
    if not settings.KAMENG_SANDBOX:
        return 0
    unit = _unit.get()
    if unit is not None:
        if unit.offset is None:
            unit.offset = _read_offset()
        return unit.offset
    stamp = time.monotonic()
    if _cached is not None and stamp - _cached[0] < _CACHE_SECONDS:
        return _cached[1]
    offset = _read_offset()
    _cached = (stamp, offset)
    return offset


def begin_unit() -> Token:
    """Opens a unit of work (a request, a task): its first `now()` reads the offset afresh."""
    return _unit.set(_Unit())


def end_unit(token: Token) -> None:
    _unit.reset(token)


@contextmanager
def unit_of_work() -> Iterator[None]:
    token = begin_unit()
    try:
        yield
    finally:
        end_unit(token)


class ClockPerRequest:
    """Middleware: each request is one unit of work for the clock (read the offset at most once, and afresh)."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request):
        with unit_of_work():
            return self.get_response(request)


_task_units: dict[str, Token] = {}


def task_started(task_id: str = "", **kwargs) -> None:
    """Celery `task_prerun`: each task is one unit of work for the clock."""
    _task_units[task_id] = begin_unit()


def task_finished(task_id: str = "", **kwargs) -> None:
    """Celery `task_postrun`: the task's unit ends (also when it raised)."""
    token = _task_units.pop(task_id, None)
    if token is not None:
        try:
            end_unit(token)
        except ValueError:  # finished in another context than it began in (a pool that hops threads)
            _unit.set(None)


def forget_cached_offset() -> None:
    """Forgets what this process and this unit of work know of the offset: the next `now()` reads it again."""
    global _cached
    _cached = None
    if (unit := _unit.get()) is not None:
        unit.offset = None


def now() -> datetime:
    """Aware current time in Asia/Shanghai, moved by the sandbox test clock."""
    return (timezone.now() + timedelta(seconds=_offset_seconds())).astimezone(SHANGHAI)


def advance(*, seconds: int) -> int:
    """Moves the sandbox clock forward; returns the new total offset. Time never goes backwards.

    The rest of this unit of work (the clock call's own answer) and of this process see the new time at once; other
    processes see it from their next unit of work, which begins after this one has committed and answered."""
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
    if (unit := _unit.get()) is not None:
        unit.offset = offset
    return offset


def local(moment: datetime) -> datetime:
    if timezone.is_naive(moment):
        raise ValueError("naive datetimes are not allowed")
    return moment.astimezone(SHANGHAI)


def stamp(moment: datetime) -> str:
    """Beijing wall-clock time as Alipay and WeChat Pay's v2 write it ("2026-12-08 10:15:00")."""
    return local(moment).strftime("%Y-%m-%d %H:%M:%S")


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with the +08:00 offset, as the API promises."""
    return None if moment is None else local(moment).isoformat()
