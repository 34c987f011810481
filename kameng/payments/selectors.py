from django.conf import settings
from django.urls import reverse

from kameng.core.errors import Conflict
from kameng.orders.models import Order
from kameng.payments.channels.registry import channels, get_channel


def channel_names() -> frozenset[str]:
    return frozenset(channels())


def notify_url(channel: str) -> str:
    return settings.KAMENG_PUBLIC_URL.rstrip("/") + reverse("payments:notify", args=[channel])


def pay_redirect_url(*, order: Order, client_ip: str) -> str:
    """Where the buyer goes to pay this order, signed for its channel. Built when the buyer clicks, not before."""
    if order.status != Order.Status.PENDING_PAYMENT:
        raise Conflict(f"order is {order.status}, nothing to pay", code="bad_state")
    base = settings.KAMENG_PUBLIC_URL.rstrip("/")
    return get_channel(order.channel).pay_redirect_url(
        order_no=order.order_no,
        amount_fen=order.amount_fen,
        subject=f"{order.product.name} × {order.quantity}",
        notify_url=notify_url(order.channel),
        return_url=base + reverse("orders:detail", args=[order.order_no]),
        client_ip=client_ip,
    )
