"""What orders asks of payments, which sits above it (a payment points at its order): filled in PaymentsConfig.ready().

Orders sends the buyer to pay and tells the ledger when an operator delivers by hand; payments answers both. Asking
before payments registered is a configuration error and fails loudly (docs/architecture.md, Layers).
"""

from collections.abc import Callable
from dataclasses import dataclass

from kameng.core.hooks import Slot


@dataclass(frozen=True)
class Payments:
    pay_url: Callable[..., str]  # (order=, client_ip=): the freshly signed URL where the buyer pays the order
    delivered_by_hand: Callable[..., None]  # (order=): a manual order was delivered, so its revenue is earned
    # (order=, client_ip=): the text of a QR code a desktop buyer scans to pay the order (WeChat Native, Alipay
    # 当面付), or None when its channel or the merchant's account offers none for it.
    qr_code: Callable[..., str | None] = lambda **kwargs: None


_payments: Slot[Payments] = Slot("orders' payments", filled_by="the payments app")


def register(payments: Payments) -> None:
    _payments.fill(payments)


def payments() -> Payments:
    return _payments.get()
