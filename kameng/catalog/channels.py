"""The payment channels a buyer can choose (the product page, checkout's validation).

Which channels are configured is payments' business, and payments sits above catalog and orders; so it registers
its answer here in PaymentsConfig.ready() and the storefront asks without importing it (docs/architecture.md).
"""

from collections.abc import Callable

from kameng.core.hooks import Slot

_offered: Slot[Callable[[], frozenset[str]]] = Slot("the offered channels", filled_by="the payments app")


def register(channel_names: Callable[[], frozenset[str]]) -> None:
    _offered.fill(channel_names)


def offered() -> frozenset[str]:
    return _offered.get()()
