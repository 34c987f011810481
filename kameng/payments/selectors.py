from django.conf import settings
from django.urls import reverse

from kameng.core.errors import DomainError
from kameng.orders.models import Order
from kameng.payments import events
from kameng.payments.channels.registry import channels, get_channel
from kameng.payments.error_codes import PaymentErrorCode
from kameng.payments.models import Payment


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
    )


def payments_of(user):
    return Payment.objects.filter(order__user=user).select_related("order").order_by("-paid_at")
