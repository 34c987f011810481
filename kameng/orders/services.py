"""Order state machine. Each transition is one function that locks the order row and checks the current state.

pending_payment ─pay→ delivered (auto) | fulfilling (manual) ─fulfil→ delivered
pending_payment ─expire→ expired ─late pay→ delivered | fulfilling | refund
pending_payment | expired (never paid) ─close→ expired, closed ─any pay→ refund (in full, nothing delivered)
any paid state ─refund→ refunded
"""

import enum
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Min, QuerySet, Sum

from kameng.catalog import channels, pricing
from kameng.catalog.error_codes import CatalogErrorCode
from kameng.catalog.models import Delivery, Product
from kameng.core import clock, ids, locking, ratelimit, sweeps
from kameng.core.audit import Source, log_action
from kameng.core.errors import DomainError
from kameng.inventory import services as inventory
from kameng.orders import paying
from kameng.orders.error_codes import OrderErrorCode
from kameng.orders.models import Order

Status = Order.Status
EXPIRY_BATCH = 200


class PaymentOutcome(enum.Enum):
    DELIVERED = "delivered"
    FULFILLING = "fulfilling"
    REFUND = "refund"  # the money came but the goods cannot be had: give it back
    CLOSED = "closed"  # the money came for an order closed for good: give it all back, deliver nothing


def lock_order(order_no: str) -> Order:
    order = locking.lock_one(Order.objects.select_related("product").filter(order_no=order_no))
    if order is None:
        raise DomainError(OrderErrorCode.UNKNOWN_ORDER)
    return order


def _take_stock(order: Order) -> None:
    """Reserves the goods for the order; raises OutOfStock. Auto goods take keys, manual goods a counter."""
    if order.product.delivery == Delivery.AUTO:
        inventory.reserve_keys(order=order, quantity=order.quantity)
        return
    if order.product.manual_stock is None:
        return
    taken = Product.objects.filter(pk=order.product_id, manual_stock__gte=order.quantity).update(
        manual_stock=F("manual_stock") - order.quantity
    )
    if not taken:
        raise inventory.OutOfStock()


def _return_stock(order: Order) -> None:
    if order.kind != Order.Kind.GOODS:
        return
    if order.product.delivery == Delivery.AUTO:
        inventory.release_keys(order=order)
    elif order.product.manual_stock is not None:
        Product.objects.filter(pk=order.product_id).update(manual_stock=F("manual_stock") + order.quantity)


def _within_member_limits(*, user, quantity: int, moment: datetime) -> None:
    """One member may not hold the shop's stock in unpaid orders: at most KAMENG_MAX_UNPAID_ORDERS of them and
    KAMENG_MAX_RESERVED_KEYS units of goods, and KAMENG_RATE_ORDERS new orders per window. Runs under the member's
    lock, so two checkouts at once count each other's order (docs/security.md)."""
    locking.lock_member(user.pk)
    ratelimit.hit(
        action="orders",
        subject=ratelimit.member(user),
        rate=ratelimit.Rate.parse(settings.KAMENG_RATE_ORDERS),
        code=OrderErrorCode.TOO_MANY_ORDERS,
    )
    unpaid = Order.objects.filter(
        user=user, kind=Order.Kind.GOODS, status=Status.PENDING_PAYMENT, expires_at__gt=moment
    ).aggregate(orders=Count("id"), units=Sum("quantity"), first_expiry=Min("expires_at"))
    if not unpaid["orders"]:
        return
    wait = (unpaid["first_expiry"] - moment).total_seconds()  # the first unpaid order frees its stock then
    if unpaid["orders"] >= settings.KAMENG_MAX_UNPAID_ORDERS:
        raise ratelimit.TooMany(
            OrderErrorCode.TOO_MANY_UNPAID_ORDERS,
            retry_after=wait,
            count=unpaid["orders"],
            limit=settings.KAMENG_MAX_UNPAID_ORDERS,
            wait=ratelimit.wait_minutes(wait),
        )
    if unpaid["units"] + quantity > settings.KAMENG_MAX_RESERVED_KEYS:
        raise ratelimit.TooMany(
            OrderErrorCode.TOO_MANY_RESERVED_KEYS,
            retry_after=wait,
            held=unpaid["units"],
            limit=settings.KAMENG_MAX_RESERVED_KEYS,
            wait=ratelimit.wait_minutes(wait),
        )


# membership (a VIP price) → member → card keys: a deadlock is retried once, not shown; through the API with an
# Idempotency-Key this is a savepoint of the key's transaction, which retries the whole write the same way.
@locking.retried_atomic
def create_order(*, user, sku: str, quantity: int, channel: str, source: str = Source.API) -> Order:
    """Checkout: the order and its stock reservation are one transaction, so stock can never be oversold; one
    member's unpaid orders stay within their limits."""
    if channel not in channels.offered():
        raise DomainError(
            OrderErrorCode.UNKNOWN_CHANNEL,
            channel=channel,
            choices=", ".join(sorted(channels.offered())),
        )
    largest = min(settings.KAMENG_MAX_ORDER_QUANTITY, settings.KAMENG_MAX_RESERVED_KEYS)
    if not isinstance(quantity, int) or not 1 <= quantity <= largest:
        raise DomainError(OrderErrorCode.BAD_QUANTITY, limit=largest)
    product = Product.objects.filter(sku=sku, is_active=True).first()
    if product is None:
        raise DomainError(CatalogErrorCode.UNKNOWN_SKU, sku=sku)
    perks = pricing.member_perks()
    discount = perks.discount_percent(user)
    if discount:
        # A VIP price is committed only under the membership's row lock, re-read there (memberships come before
        # orders in the lock order): a cancel that refunded the fee meanwhile leaves the list price.
        discount = perks.held_discount_percent(user)
    moment = clock.now()
    # After anything that decides the price (a membership comes before the member's lock in LOCK_ORDER), before
    # the order row and its keys.
    _within_member_limits(user=user, quantity=quantity, moment=moment)
    original = product.price_fen * quantity
    # VIP price (会员价) while the membership is active; the saving is recorded on the order.
    unit_price = pricing.vip_unit_price(product.price_fen, discount)
    order = Order.objects.create(
        order_no=ids.public_number("K"),
        user=user,
        product=product,
        subject=f"{product.name} × {quantity}",
        quantity=quantity,
        unit_price_fen=unit_price,
        original_amount_fen=original,
        discount_fen=original - unit_price * quantity,
        amount_fen=unit_price * quantity,
        priority=1 if perks.priority_fulfilment(user) else 0,
        channel=channel,
        created_at=moment,
        expires_at=moment + timedelta(seconds=settings.KAMENG_ORDER_TTL_SECONDS),
    )
    order.product = product
    _take_stock(order)
    log_action(
        action="order.created",
        obj=order,
        actor=user,
        source=source,
        data={
            "sku": sku,
            "quantity": quantity,
            "amount_fen": order.amount_fen,
            "discount_fen": order.discount_fen,
            "channel": channel,
        },
    )
    return order


def expire_due_orders(*, limit: int = EXPIRY_BATCH) -> int:
    """Sweep: unpaid orders past their deadline expire and release their stock. Safe for many workers at once."""
    return len(list(sweeps.lease_due(due=_overdue_orders, lease=_expire, limit=limit, batch=50)))


def _awaiting_payment() -> QuerySet[Order]:
    return Order.objects.filter(status=Status.PENDING_PAYMENT)


def next_expiry_due() -> datetime | None:
    return _awaiting_payment().aggregate(at=Min("expires_at"))["at"]


def _overdue_orders() -> QuerySet[Order]:
    return (
        _awaiting_payment()
        .select_related("product")
        .filter(expires_at__lte=clock.now())
        .order_by("expires_at")
    )


def _expire(order: Order) -> Order:
    _return_stock(order)
    order.status = Status.EXPIRED
    order.save(update_fields=["status"])
    log_action(action="order.expired", obj=order, source=Source.SYSTEM)
    return order


def close_unpaid_order(*, order: Order, reason: str, source: str, actor=None) -> bool:
    """pending_payment or expired, never paid → expired and closed for good: its stock goes back now (if it still
    held any) and a payment that arrives later is refunded in full instead of delivered, even with stock to spare
    (`apply_payment`). Inside the caller's transaction, which locks the order here if it has not already (orders
    come after memberships in the lock order). Returns False, changing nothing, for an order paid or closed."""
    locking.hold(order)
    if (
        order.paid_at is not None
        or order.closed_reason
        or order.status not in (Status.PENDING_PAYMENT, Status.EXPIRED)
    ):
        return False
    if order.status == Status.PENDING_PAYMENT:
        _return_stock(order)
    order.status, order.closed_reason, order.closed_at = Status.EXPIRED, reason, clock.now()
    order.save(update_fields=["status", "closed_reason", "closed_at"])
    log_action(action="order.closed", obj=order, actor=actor, source=source, data={"reason": reason})
    return True


def apply_payment(*, order_no: str, source: str = Source.CHANNEL) -> PaymentOutcome:
    """A verified payment of the full amount landed; runs inside the payment's transaction."""
    order = lock_order(order_no)
    if order.closed_reason:
        # Closed for good (e.g. its VIP price was refunded with the member's fee): stock or not, nothing is sold.
        log_action(
            action="order.paid_after_close", obj=order, source=source, data={"reason": order.closed_reason}
        )
        return PaymentOutcome.CLOSED
    if order.status == Status.EXPIRED:
        # A late payment: the keys went back to stock; deliver if stock allows, otherwise refund.
        try:
            with transaction.atomic():
                _take_stock(order)
        except inventory.OutOfStock:
            log_action(action="order.late_payment_out_of_stock", obj=order, source=source)
            return PaymentOutcome.REFUND
        log_action(action="order.late_payment_restocked", obj=order, source=source)
    elif order.status != Status.PENDING_PAYMENT:
        return PaymentOutcome.REFUND  # a second payment for an order already paid
    order.status, order.paid_at = Status.PAID, clock.now()
    if order.product.delivery == Delivery.AUTO:
        inventory.sell_keys(order=order)
        order.status, order.delivered_at = Status.DELIVERED, order.paid_at
        outcome = PaymentOutcome.DELIVERED
    else:
        order.status = Status.FULFILLING
        outcome = PaymentOutcome.FULFILLING
    order.save(update_fields=["status", "paid_at", "delivered_at"])
    log_action(
        action=f"order.{order.status}", obj=order, source=source, data={"amount_fen": order.amount_fen}
    )
    return outcome


@transaction.atomic
def fulfil_order(*, order_no: str, note: str, actor) -> Order:
    """An operator delivers a manual-fulfilment order by hand."""
    note = (note or "").strip()
    if not note:
        raise DomainError(OrderErrorCode.EMPTY_NOTE)
    order = lock_order(order_no)
    if order.status != Status.FULFILLING:
        raise DomainError(OrderErrorCode.BAD_STATE, status=order.get_status_display())
    order.status, order.delivered_at, order.fulfilment_note = Status.DELIVERED, clock.now(), note
    order.save(update_fields=["status", "delivered_at", "fulfilment_note"])
    paying.payments().delivered_by_hand(order=order)
    log_action(action="order.fulfilled", obj=order, actor=actor, source=Source.ADMIN)
    return order


def mark_service_delivered(*, order: Order, source: str = Source.CHANNEL) -> None:
    """A paid order for a service (a VIP period) is delivered the moment it is paid; the order is locked."""
    order.status, order.paid_at = Status.DELIVERED, clock.now()
    order.delivered_at = order.paid_at
    order.save(update_fields=["status", "paid_at", "delivered_at"])
    log_action(action="order.delivered", obj=order, source=source, data={"amount_fen": order.amount_fen})


def create_service_order(*, user, subject: str, amount_fen: int, channel: str, source: str) -> Order:
    """An order for a VIP period (no goods, no stock); inside the caller's transaction."""
    moment = clock.now()
    order = Order.objects.create(
        order_no=ids.public_number("V"),
        kind=Order.Kind.MEMBERSHIP,
        user=user,
        subject=subject[:128],
        quantity=1,
        unit_price_fen=amount_fen,
        original_amount_fen=amount_fen,
        amount_fen=amount_fen,
        channel=channel,
        created_at=moment,
        expires_at=moment + timedelta(seconds=settings.KAMENG_ORDER_TTL_SECONDS),
    )
    log_action(
        action="order.created",
        obj=order,
        actor=user,
        source=source,
        data={"subject": subject, "amount_fen": amount_fen, "channel": channel},
    )
    return order


def mark_refunded(*, order_no: str, whole_order: bool) -> None:
    """Called inside the refund's transaction when the channel confirmed the money went back."""
    order = lock_order(order_no)
    if whole_order and order.status in {
        Status.PENDING_PAYMENT,
        Status.EXPIRED,
        Status.PAID,
        Status.FULFILLING,
    }:
        if order.status in {Status.PAID, Status.FULFILLING}:
            _return_stock(order)
        order.status, order.refunded_at = Status.REFUNDED, clock.now()
        order.save(update_fields=["status", "refunded_at"])
        log_action(action="order.refunded", obj=order, source=Source.SYSTEM)
