import logging

from django.conf import settings
from django.urls import reverse

from kameng.core.errors import DomainError
from kameng.core.http import TransportError
from kameng.orders.models import Order
from kameng.payments import events
from kameng.payments.channels.errors import ChannelProtocolError
from kameng.payments.channels.registry import channels, get_channel
from kameng.payments.error_codes import PaymentErrorCode
from kameng.payments.models import Payment

log = logging.getLogger(__name__)


def channel_names() -> frozenset[str]:
    return frozenset(channels())


def notify_url(channel: str) -> str:
    return settings.KAMENG_PUBLIC_URL.rstrip("/") + reverse("payments:notify", args=[channel])


def pay_redirect_url(*, order: Order, client_ip: str) -> str:
    """Where the buyer goes to pay this order, signed for its channel. Built when the buyer clicks, not before."""
    if order.closed_reason and order.status == Order.Status.EXPIRED:
        raise DomainError(PaymentErrorCode.ORDER_CLOSED)
    if order.status != Order.Status.PENDING_PAYMENT:
        raise DomainError(PaymentErrorCode.NOTHING_TO_PAY, status=order.get_status_display())
    base = settings.KAMENG_PUBLIC_URL.rstrip("/")
    own_url = events.order_kind(order.kind).pay_url(order)
    if own_url is not None:  # e.g. auto-renew: sign the agreement; the first period is charged through it
        return own_url
    return get_channel(order.channel).pay_redirect_url(
        order_no=order.order_no,
        amount_fen=order.amount_fen,
        subject=order.subject,
        notify_url=notify_url(order.channel),
        return_url=base + reverse("orders:detail", args=[order.order_no]),
        client_ip=client_ip,
        expires_at=order.expires_at,
    )


def desktop_qr_code(*, order: Order, client_ip: str) -> str | None:
    """The QR code text for a desktop buyer of a payable order (`qr_code` of its channel: WeChat Native, Alipay
    当面付 precreate), or None: the order is not payable, it is paid another way (an auto-renew signing), the
    merchant's account has no such product, or the channel did not answer (the buyer still has the pay button)."""
    if order.status != Order.Status.PENDING_PAYMENT or order.closed_reason:
        return None
    try:
        kind = events.order_kind(order.kind)
        qr_code = getattr(get_channel(order.channel), "qr_code", None)
    except LookupError:
        return None  # a kind or channel this shop does not configure: the pay button says why
    # A kind with its own way to pay (a membership's first order, paid by signing the agreement and charged
    # through it) never gets a QR code: scanning a plain trade of the same order would pay it twice. Decided from
    # the kind, never by building its link, which calls the channel on each page view.
    if not kind.pays_at_the_cashier or qr_code is None:
        return None
    try:
        return qr_code(
            order_no=order.order_no,
            amount_fen=order.amount_fen,
            subject=order.subject,
            notify_url=notify_url(order.channel),
            client_ip=client_ip,
            expires_at=order.expires_at,
        )
    except LookupError:
        return None  # the merchant's account has no QR product for this channel
    except (TransportError, ChannelProtocolError) as exc:
        log.warning("no QR code for %s: %s", order.order_no, exc)
        return None


def payments_of(user):
    return Payment.objects.filter(order__user=user).select_related("order").order_by("-paid_at")
