"""Due-time work as named, idempotent sweeps. Apps register theirs in AppConfig.ready(); Celery beat, the CLI and
the sandbox's run-due endpoint all call `run_due_sweeps`. `lease_due` is how a sweep claims its rows.

A sweep may come with a `next_due` selector: the earliest moment it will have work (None: nothing scheduled), read
from the same rows the sweep claims. `next_due_at` is the earliest of them, so the sandbox clock can be moved from one
due moment to the next instead of hour by hour (the tests play a year of renewals this way)."""

import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TypeVar

from django.db import models, transaction
from django.db.models import F

from kameng.core import clock, locking
from kameng.core.models import SweepStat

log = logging.getLogger(__name__)
_sweeps: dict[str, Callable[[], int]] = {}
_next_due: dict[str, Callable[[], datetime | None]] = {}
Row = TypeVar("Row", bound=models.Model)
Leased = TypeVar("Leased")


def register(
    name: str, sweep: Callable[[], int], *, next_due: Callable[[], datetime | None] | None = None
) -> None:
    """`next_due` is left out only by polls that have no schedule of their own (they run whenever sweeps run)."""
    _sweeps[name] = sweep
    if next_due is not None:
        _next_due[name] = next_due


def next_due_at() -> datetime | None:
    """The earliest moment any sweep has scheduled work; it may be in the past when work is due now."""
    moments = [moment for selector in _next_due.values() if (moment := selector()) is not None]
    return min(moments, default=None)


def run_due_sweeps() -> dict[str, int]:
    """Runs every sweep once; returns how many items each handled. One sweep's failure does not keep the others
    from running: it is logged, and raised once they all had their turn."""
    handled: dict[str, int] = {}
    failure: Exception | None = None
    for name, sweep in _sweeps.items():
        try:
            handled[name] = _timed(name, sweep)
        except Exception as exc:
            log.exception("sweep %s failed", name)
            failure = failure or exc
    if failure is not None:
        raise failure
    return handled


def _timed(name: str, sweep: Callable[[], int]) -> int:
    started_at, started = clock.now(), time.monotonic()
    handled = sweep()
    duration_ms = round((time.monotonic() - started) * 1000)
    # F() increments: two workers sweeping at once both count, neither overwrites the other's total.
    SweepStat.objects.get_or_create(name=name)
    SweepStat.objects.filter(name=name).update(
        runs=F("runs") + 1,
        items=F("items") + handled,
        last_started_at=started_at,
        last_duration_ms=duration_ms,
        last_items=handled,
    )
    return handled


def lease_due(
    *,
    due: Callable[[], models.QuerySet[Row]],
    lease: Callable[[Row], Leased | None],
    limit: int,
    batch: int = 1,
) -> Iterator[Leased]:
    """Claims due rows `batch` at a time and yields what `lease` made of each, until `limit` are leased or none is.

    Each claim is one short transaction: `due()` (built afresh, so it sees the current time) is locked with
    SELECT … FOR UPDATE SKIP LOCKED, so workers running the same sweep take different rows instead of queueing, and
    `lease(row)` runs on each row under its lock. `lease` must move the row out of `due()` — push its due time past
    a lease, or do the whole of a database-only piece of work — or return None to pass it over (then it does not
    count, and this run claims past it instead of stopping: rows passed over at the head of `due()` never starve
    the rows behind them).
    What it returns is yielded after the transaction has committed: the caller does its slow work, such as calling
    another system, with no transaction and no lock held, and a worker that dies there leaves the row to the next
    sweep once its lease runs out.
    """
    leased, passed_over = 0, set()
    while leased < limit:
        with transaction.atomic():
            rows = locking.claim(due().exclude(pk__in=passed_over), limit=min(batch, limit - leased))
            claimed = []
            for row in rows:
                item = lease(row)
                if item is None:
                    passed_over.add(row.pk)  # it may still be due: claim past it, never again this run
                else:
                    claimed.append(item)
        if not rows:
            return
        leased += len(claimed)
        yield from claimed
