"""What orders asks of payments, which sits above it (a payment points at its order): filled in PaymentsConfig.ready().

Orders sends the buyer to pay and tells the ledger when an operator delivers by hand; payments answers both. Asking
before payments registered is a configuration error and fails loudly (docs/architecture.md, Layers).
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Payments:
    pay_url: Callable[..., str]  # (order=, client_ip=): the freshly signed URL where the buyer pays the order
    delivered_by_hand: Callable[..., None]  # (order=): a manual order was delivered, so its revenue is earned


_payments: list[Payments] = []


def register(payments: Payments) -> None:
    _payments[:] = [payments]


def payments() -> Payments:
    if not _payments:
        raise LookupError("no payments registered for orders: the payments app's ready() registers them")
    return _payments[0]
