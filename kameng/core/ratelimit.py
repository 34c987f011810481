"""Rate limits: how often one subject (today always a member) may do one action.

One helper for every limit in the shop, counted in the database (`core.RateCounter`) rather than in the cache: no
CACHES is configured, so Django's cache is each process's own memory, and every gunicorn worker would count apart.
A window is fixed (aligned to the epoch, on the shop's clock, so the sandbox clock moves it too) and the count is
one `INSERT … ON CONFLICT DO UPDATE … RETURNING` (PostgreSQL, and SQLite since 3.35): parallel requests add up.

`hit` runs inside the caller's transaction, so an action that is refused for another reason (and rolled back)
does not use up the member's allowance, and a hit past the limit is rolled back with the refusal. The upsert locks
its counter row until the transaction ends: the only rows it touches are that subject's own counters, so it only
queues the same member's parallel requests behind each other (docs/architecture.md, "Lock order").
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction

from kameng.core import clock
from kameng.core.errors import DomainError, ErrorCode
from kameng.core.models import RateCounter


@dataclass(frozen=True)
class Rate:
    """At most `limit` actions per `seconds`. Written in settings as "limit/seconds", e.g. "5/600"."""

    limit: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> "Rate":
        limit, _, seconds = text.partition("/")
        rate = cls(limit=int(limit), seconds=int(seconds))
        if rate.limit < 1 or rate.seconds < 1:
            raise ValueError(f"a rate is 'limit/seconds', both at least 1: {text!r}")
        return rate

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.seconds / 60))


class TooMany(DomainError):
    """A refusal because of a limit that passes with time (a rate, a quota that frees up): answered 429, always
    with `Retry-After`, the seconds until the subject may try again (the API through its error handler, pages
    through `shows_refusals`). A refusal that waiting does not lift (too many open tickets, one file larger than
    the whole quota) is a plain DomainError with a 409 or 422 code, never a 429 without the header."""

    def __init__(self, code: ErrorCode, /, *, retry_after: float, **params):
        super().__init__(code, **params)
        self.retry_after = max(1, math.ceil(retry_after))


def wait_minutes(seconds: float) -> int:
    """A wait as the whole minutes a message says ("try again in N minutes"), never 0."""
    return max(1, math.ceil(seconds / 60))


def member(user) -> str:
    """The subject of a signed-in person's limits. (Every action limited today needs signing in; a limit on people
    who are not would key on the client's address, taken from the one function that reads it for the whole shop.)"""
    return f"user:{user.pk}"


def _window(rate: Rate, moment: datetime) -> tuple[datetime, datetime]:
    epoch = int(moment.timestamp())
    start = datetime.fromtimestamp(epoch - epoch % rate.seconds, tz=clock.SHANGHAI)
    return start, start + timedelta(seconds=rate.seconds)


def _refusal(code: ErrorCode, rate: Rate, window_end: datetime, moment: datetime, params: dict) -> TooMany:
    wait = (window_end - moment).total_seconds()
    return TooMany(
        code, retry_after=wait, limit=rate.limit, minutes=rate.minutes, wait=wait_minutes(wait), **params
    )


def check(*, action: str, subject: str, rate: Rate, code: ErrorCode, **params) -> None:
    """Refuses with `code` when the subject already used up this window, counting nothing: a cheap look before
    expensive work (decoding an image) that `hit` then counts inside the transaction."""
    moment = clock.now()
    start, end = _window(rate, moment)
    used = (
        RateCounter.objects.filter(action=action, subject=subject, window_start=start)
        .values_list("hits", flat=True)
        .first()
    )
    if used is not None and used >= rate.limit:
        raise _refusal(code, rate, end, moment, params)


def hit(*, action: str, subject: str, rate: Rate, code: ErrorCode, **params) -> None:
    """Counts one `action` by `subject`; past `rate.limit` in the current window, raises `TooMany(code)` with the
    seconds to the window's end. `code`'s message may use %(limit)s, %(minutes)s (the window) and %(wait)s (the
    minutes to wait), plus `params`. Must run inside a transaction, which the refusal is expected to roll back."""
    if not transaction.get_connection().in_atomic_block:
        raise transaction.TransactionManagementError("a rate limit counts inside the action's transaction")
    moment = clock.now()
    start, end = _window(rate, moment)
    table = connection.ops.quote_name(RateCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (action, subject, window_start, window_end, hits) VALUES (%s, %s, %s, %s, 1) "  # noqa: S608  (the table name is ours)
            f"ON CONFLICT (action, subject, window_start) DO UPDATE SET hits = {table}.hits + 1 RETURNING hits",
            [action, subject, *(connection.ops.adapt_datetimefield_value(at) for at in (start, end))],
        )
        hits = cursor.fetchone()[0]
    if hits == 1:  # a new window: the subject's older ones count for nothing any more
        RateCounter.objects.filter(action=action, subject=subject, window_end__lt=start).delete()
    if hits > rate.limit:
        raise _refusal(code, rate, end, moment, params)
