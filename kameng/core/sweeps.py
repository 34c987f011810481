"""Due-time work as named, idempotent sweeps. Apps register theirs in AppConfig.ready(); Celery beat, the CLI and
the sandbox's run-due endpoint all call `run_due_sweeps`."""

from collections.abc import Callable

_sweeps: dict[str, Callable[[], int]] = {}


def register(name: str, sweep: Callable[[], int]) -> None:
    _sweeps[name] = sweep


def run_due_sweeps() -> dict[str, int]:
    """Runs every sweep once; returns how many items each handled."""
    return {name: sweep() for name, sweep in _sweeps.items()}
