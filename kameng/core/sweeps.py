"""Due-time work as named, idempotent sweeps. Apps register theirs in AppConfig.ready(); Celery beat, the CLI and
the sandbox's run-due endpoint all call `run_due_sweeps`. `lease_due` is how a sweep claims its rows."""

import logging
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from django.db import models, transaction
from django.db.models import F

from kameng.core import clock
from kameng.core.models import SweepStat

log = logging.getLogger(__name__)
_sweeps: dict[str, Callable[[], int]] = {}
Row = TypeVar("Row", bound=models.Model)
Leased = TypeVar("Leased")


def register(name: str, sweep: Callable[[], int]) -> None:
    _sweeps[name] = sweep


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
    a lease, or do the whole of a database-only piece of work — or return None to leave it (then it does not count).
    What it returns is yielded after the transaction has committed: the caller does its slow work, such as calling
    another system, with no transaction and no lock held, and a worker that dies there leaves the row to the next
    sweep once its lease runs out.
    """
    leased = 0
    while leased < limit:
        with transaction.atomic():
            rows = list(due().select_for_update(skip_locked=True, of=("self",))[: min(batch, limit - leased)])
            claimed = [item for item in map(lease, rows) if item is not None]
        if not claimed:
            return
        leased += len(claimed)
        yield from claimed
