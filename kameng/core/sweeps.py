"""Due-time work as named, idempotent sweeps. Apps register theirs in AppConfig.ready(); Celery beat, the CLI and
the sandbox's run-due endpoint all call `run_due_sweeps`."""

import logging
import time
from collections.abc import Callable

from django.db.models import F

from kameng.core import clock
from kameng.core.models import SweepStat

log = logging.getLogger(__name__)
_sweeps: dict[str, Callable[[], int]] = {}


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
