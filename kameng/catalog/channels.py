"""The payment channels a buyer can choose (the product page, checkout's validation).

Which channels are configured is payments' business, and payments sits above catalog and orders; so it registers
its answer here in PaymentsConfig.ready() and the storefront asks without importing it (docs/architecture.md).
"""

from collections.abc import Callable

_offered: list[Callable[[], frozenset[str]]] = []


def register(channel_names: Callable[[], frozenset[str]]) -> None:
    _offered[:] = [channel_names]


def offered() -> frozenset[str]:
    if not _offered:
        raise LookupError("no payment channels registered: the payments app's ready() registers them")
    return _offered[0]()
