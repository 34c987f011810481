"""What payments tells the apps above it, and what it asks them, without importing them.

Payments sits below membership (a VIP period is bought with an order, and an order is paid by a payment), so it
cannot call membership. Instead each kind of order registers, in its app's AppConfig.ready(), what payments needs
to know about it, and the app that keeps channel agreements subscribes to their events. Every lookup fails loudly:
a paid order of a kind nobody registered is a programming error, never a payment silently kept.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet

from kameng.core.hooks import Slot
from kameng.orders.models import Order
from kameng.orders.services import PaymentOutcome


class Rejected(Exception):
    """A verified notification that still must not count (not our order, wrong amount, an agreement we never made).

    Raised by payments or by a handler; the notification is logged as rejected and the channel answered no."""


@dataclass(frozen=True)
class PaymentSucceeded:
    """Money for an order has arrived and is in the ledger; the order's kind decides what it buys."""

    order_no: str
    channel: str
    amount_fen: int


@dataclass(frozen=True)
class AgreementSigned:
    """The member signed an auto-renew agreement at the channel (Alipay 周期扣款, WeChat 委托代扣)."""

    channel: str
    external_agreement_no: str  # ours
    channel_agreement_no: str  # theirs
    dedupe_key: str  # the notification's id, for the audit trail


@dataclass(frozen=True)
class AgreementEnded:
    """The agreement was terminated at the channel: by the member inside the channel's app, or our unsign confirmed."""

    channel: str
    external_agreement_no: str
    channel_agreement_no: str
    dedupe_key: str


AgreementEvent = AgreementSigned | AgreementEnded


def _at_the_cashier(order: Order) -> str | None:
    return None  # no way of its own: the channel's cashier (pay_redirect_url, or a desktop QR code)


@dataclass(frozen=True)
class OrderKind:
    """What payments must know about one kind of order (`Order.Kind`)."""

    # Applies the payment inside its transaction: DELIVERED, FULFILLING (delivered later by hand), REFUND or CLOSED.
    on_payment: Callable[[PaymentSucceeded], PaymentOutcome]
    revenue_account: str  # the ledger account a delivered order's money is earned into
    refund_reason: str  # why a first payment that cannot be honoured goes back (`Refund.Reason`)
    # The kind's own way to pay (e.g. signing an agreement whose first charge pays it), or None: the channel's cashier.
    pay_url: Callable[[Order], str | None] = _at_the_cashier

    @property
    def pays_at_the_cashier(self) -> bool:
        """Paid by an ordinary cashier trade (so a desktop QR code of the same trade may be offered), told by the
        kind itself, without building its own payment link (which may call the channel)."""
        return self.pay_url is _at_the_cashier


_order_kinds: dict[str, OrderKind] = {}
_agreement_handler: Slot[Callable[[AgreementEvent], None]] = Slot(
    "the agreement events' handler", filled_by="the app that keeps agreements (membership)"
)


@dataclass(frozen=True)
class ChargeRefused:
    """The channel refused a charge of an agreement for good: a failed-payment notification
    (`EventKind.PAYMENT_FAILED`), or a query answering that the charge's trade is closed unpaid."""

    order_no: str
    channel: str
    reason: str
    source: str  # an audit Source: channel (its notification) or query (its answer to ours)


@dataclass(frozen=True)
class AgreementCharges:
    """What payments asks the app that charges agreements (membership) about its charges, each an order whose number
    the channel sees. The query sweep asks the channel about the unsettled ones, and a definite refusal, whichever
    way it comes, goes to `refused`, inside the transaction that records it."""

    orders: Callable[[], QuerySet[Order]]  # every order that charges an agreement
    unsettled: Callable[[], QuerySet[Order]]  # those whose outcome the channel has not told us yet
    refused: Callable[[ChargeRefused], None]


_agreement_charges: Slot[AgreementCharges] = Slot(
    "the agreement charges' handlers", filled_by="the app that charges agreements (membership)"
)


def register_agreement_charges(handlers: AgreementCharges) -> None:
    _agreement_charges.fill(handlers)


def agreement_charges() -> AgreementCharges:
    return _agreement_charges.get()


def register_order_kind(kind: str, handlers: OrderKind) -> None:
    if _order_kinds.get(kind, handlers) != handlers:
        raise ImproperlyConfigured(f"order kind {kind!r} has its payment handlers already")
    _order_kinds[kind] = handlers


def order_kind(kind: str) -> OrderKind:
    try:
        return _order_kinds[kind]
    except KeyError:
        raise LookupError(f"no payment handlers registered for order kind {kind!r}") from None


def subscribe_agreements(handler: Callable[[AgreementEvent], None]) -> None:
    """The one app that keeps agreements applies their events (inside the notification's transaction)."""
    _agreement_handler.fill(handler)


def publish_agreement_event(event: AgreementEvent) -> None:
    _agreement_handler.get()(event)
