"""Payments: channel notifications processed exactly once, refunds paid exactly once, every fen in the ledger."""

import hashlib
import logging
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.db.models import F

from kameng.core import clock, ids, locking, outbox
from kameng.core.audit import Source, log_action
from kameng.core.errors import DomainError
from kameng.orders import services as orders
from kameng.orders.models import Order
from kameng.payments import events, ledger
from kameng.payments.channels.base import EventKind, Outcome, RefundResult, Reply
from kameng.payments.channels.errors import ChannelProtocolError
from kameng.payments.channels.registry import get_channel
from kameng.payments.error_codes import PaymentErrorCode
from kameng.payments.events import Rejected
from kameng.payments.models import NotificationLog, Payment, Refund

log = logging.getLogger(__name__)
REFUND_TOPIC = "payments.refund"
_AGREEMENT_EVENTS = {
    EventKind.AGREEMENT_SIGNED: events.AgreementSigned,
    EventKind.AGREEMENT_TERMINATED: events.AgreementEnded,
}
CLIENT_ADDRESS_KEY = (
    "KAMENG_CLIENT_IP"  # the sender's address as kameng.core.client resolved it (payments.views)
)
# With the body, what it takes to verify a logged notification again later (a dispute): WeChat Pay signs in headers.
_HEADERS_KEPT = (
    "CONTENT_TYPE",
    "HTTP_WECHATPAY_SIGNATURE",
    "HTTP_WECHATPAY_SERIAL",
    "HTTP_WECHATPAY_TIMESTAMP",
    "HTTP_WECHATPAY_NONCE",
    "HTTP_WECHATPAY_SIGNATURE_TYPE",
    "REMOTE_ADDR",
    CLIENT_ADDRESS_KEY,
)


def _kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: str(headers[k]) for k in _HEADERS_KEPT if k in headers}


def _log_rejection(channel: str, headers: Mapping[str, str], body: bytes, reason: str, key: str = "") -> None:
    """A bounded trace of a refused notification: the first row of a body and reason keeps an excerpt and the
    whole body's digest; the same again only counts. The count is one UPDATE, and two first deliveries at once
    meet on the unique index, so parallel repeats all add up and never make a second row."""
    digest, reason, moment = hashlib.sha256(body).hexdigest(), reason[:255], clock.now()
    same = NotificationLog.objects.filter(channel=channel, accepted=False, body_sha256=digest, reason=reason)

    def counted() -> bool:
        return bool(same.update(repeats=F("repeats") + 1, last_received_at=moment))

    if not counted():
        try:
            with transaction.atomic():  # a savepoint: losing the race leaves the caller's transaction usable
                NotificationLog.objects.create(
                    channel=channel,
                    dedupe_key=key[:128],
                    accepted=False,
                    reason=reason,
                    headers=_kept_headers(headers),
                    body=body[: NotificationLog.EXCERPT_BYTES].decode("utf-8", "replace"),
                    body_sha256=digest,
                    body_bytes=len(body),
                    received_at=moment,
                    last_received_at=moment,
                )
        except IntegrityError:
            counted()
    log.warning("rejected %s notification: %s", channel, reason)


def has_endpoint(channel: str, endpoint: str) -> bool:
    """Whether the channel takes notifications at this endpoint ("" is its main one)."""
    if not endpoint:
        return True
    try:
        get_channel(channel).notification_endpoint(endpoint)
    except (AttributeError, LookupError):
        return False
    return True


def process_notification(
    *, channel: str, headers: Mapping[str, str], body: bytes, endpoint: str = ""
) -> Reply:
    """Verifies, then applies, a channel's notification in one transaction; answers only after it commits.

    The same notification delivered any number of times, even at once, is applied once: the accepted log row is
    unique per (channel, notify id) and the payment row unique per (channel, trade number). `endpoint` names a
    channel's second protocol (WeChat's v2 委托代扣 notifications), which reads and answers in its own way.
    """
    adapter = get_channel(channel)
    if endpoint:
        adapter = adapter.notification_endpoint(endpoint)
    try:
        event = adapter.parse_notification(headers=headers, body=body, now_ts=int(clock.now().timestamp()))
    except ChannelProtocolError as exc:
        _log_rejection(channel, headers, body, exc.reason)
        return adapter.nack(exc.reason)
    try:
        _apply_notification(channel=channel, event=event, headers=headers, body=body)
    except IntegrityError:
        if NotificationLog.objects.filter(
            channel=channel, dedupe_key=event.dedupe_key, accepted=True
        ).exists():
            return adapter.ack()  # already processed: a redelivery
        raise
    except Rejected as exc:
        _log_rejection(channel, headers, body, str(exc), event.dedupe_key)
        return adapter.nack(str(exc))
    return adapter.ack()


@locking.retried_atomic
def _apply_notification(*, channel: str, event, headers: Mapping[str, str], body: bytes) -> None:
    entry = NotificationLog.objects.create(
        channel=channel,
        dedupe_key=event.dedupe_key[:128],
        kind=event.kind,
        accepted=True,
        headers=_kept_headers(headers),
        body=body.decode("utf-8", "replace"),
        body_sha256=hashlib.sha256(body).hexdigest(),
        body_bytes=len(body),
        received_at=clock.now(),
    )
    if event.kind == EventKind.PAYMENT:
        record_payment(
            channel=channel,
            out_trade_no=event.out_trade_no,
            channel_trade_no=event.channel_trade_no,
            amount_fen=event.amount_fen,
            notification=entry,
        )
    elif event.kind == EventKind.PAYMENT_FAILED:
        refuse_charge(
            channel=channel,
            order_no=event.out_trade_no,
            reason=f"{event.message or 'failed'} (notification {event.dedupe_key})",
            source=Source.CHANNEL,
        )
    elif event.kind in _AGREEMENT_EVENTS:
        events.publish_agreement_event(
            _AGREEMENT_EVENTS[event.kind](
                channel=channel,
                external_agreement_no=event.external_agreement_no,
                channel_agreement_no=event.channel_agreement_no,
                dedupe_key=event.dedupe_key,
            )
        )


def refuse_charge(*, channel: str, order_no: str, reason: str, source: str) -> None:
    """The channel refused a charge of an agreement for good (its failed-payment notification, or its answer to our
    query): the app that charges agreements applies it, inside the caller's transaction. Raises Rejected for an
    order that is not ours on this channel, or charges no agreement."""
    order = Order.objects.filter(order_no=order_no).only("channel").first()
    if order is None:
        raise Rejected("unknown order")
    if order.channel != channel:
        raise Rejected("order was placed for another channel")
    events.agreement_charges().refused(
        events.ChargeRefused(order_no=order_no, channel=channel, reason=reason, source=source)
    )


def record_payment(
    *,
    channel: str,
    out_trade_no: str,
    channel_trade_no: str,
    amount_fen: int,
    notification: NotificationLog | None = None,
    source: str = Source.CHANNEL,
) -> None:
    """Money the channel took for one of our orders: from a notification, a charge's synchronous answer, or the
    channel's answer to our query (source "query").

    Runs inside the caller's transaction; the same trade told twice (answer and notification) counts once.
    """
    order = Order.objects.filter(order_no=out_trade_no).only("id", "amount_fen", "channel", "kind").first()
    if order is None:
        raise Rejected("unknown order")
    if order.channel != channel:
        raise Rejected("order was placed for another channel")
    if amount_fen != order.amount_fen:
        raise Rejected(f"amount {amount_fen} does not equal the order's {order.amount_fen}")
    if not channel_trade_no:
        raise Rejected("no channel trade number")
    if Payment.objects.filter(channel=channel, channel_trade_no=channel_trade_no).exists():
        return  # the same trade told again under a new notify id (e.g. TRADE_FINISHED after TRADE_SUCCESS)
    try:
        with (
            transaction.atomic()
        ):  # a savepoint: losing the race below leaves the caller's transaction usable
            payment = Payment.objects.create(
                order=order,
                channel=channel,
                channel_trade_no=channel_trade_no,
                amount_fen=amount_fen,
                paid_at=clock.now(),
                notification=notification,
            )
    except IntegrityError:
        # The charge's answer and the channel's notification arrived at once; the unique index let one in.
        return
    ledger.post(
        kind="payment",
        reference=out_trade_no,
        lines=[
            (ledger.channel_account(channel), payment.amount_fen),
            (ledger.PREPAYMENTS, -payment.amount_fen),
        ],
    )
    log_action(
        action="payment.received",
        obj=payment,
        source=source,
        data={"order_no": out_trade_no, "amount_fen": payment.amount_fen, "channel": channel},
    )
    kind = events.order_kind(order.kind)
    outcome = kind.on_payment(
        events.PaymentSucceeded(order_no=out_trade_no, channel=channel, amount_fen=payment.amount_fen)
    )
    if outcome == orders.PaymentOutcome.DELIVERED:
        ledger.post(
            kind="delivery",
            reference=out_trade_no,
            lines=[(ledger.PREPAYMENTS, payment.amount_fen), (kind.revenue_account, -payment.amount_fen)],
        )
    elif outcome == orders.PaymentOutcome.CLOSED:  # an order closed for good: all back, nothing delivered
        request_refund(payment=payment, amount_fen=payment.amount_fen, reason=Refund.Reason.ORDER_CLOSED)
    elif outcome == orders.PaymentOutcome.REFUND:
        first_payment = not Payment.objects.filter(order=order).exclude(pk=payment.pk).exists()
        reason = kind.refund_reason if first_payment else Refund.Reason.DUPLICATE_PAYMENT
        request_refund(payment=payment, amount_fen=payment.amount_fen, reason=reason)


def goods_order_kind() -> events.OrderKind:
    """Goods orders are the shop's own: orders sits below payments, so payments registers their handlers itself."""
    return events.OrderKind(
        on_payment=lambda paid: orders.apply_payment(order_no=paid.order_no),
        revenue_account=ledger.SALES,
        refund_reason=Refund.Reason.OUT_OF_STOCK,
    )


def record_manual_delivery(*, order: Order) -> None:
    """Revenue is earned when a manual order is delivered by hand."""
    ledger.post(
        kind="delivery",
        reference=order.order_no,
        lines=[(ledger.PREPAYMENTS, order.amount_fen), (ledger.SALES, -order.amount_fen)],
    )


def request_refund(
    *, payment: Payment, amount_fen: int, reason: str, from_account: str = ledger.PREPAYMENTS
) -> Refund:
    """Records the refund and queues its execution at the channel; inside the caller's transaction.

    `from_account` is what the refund reverses: undelivered prepayments, or revenue already earned."""
    locking.lock_one(Payment.objects.filter(pk=payment.pk))  # one refund decision at a time
    already = sum(r.amount_fen for r in payment.refunds.all())
    if amount_fen <= 0 or already + amount_fen > payment.amount_fen:
        raise ValueError("a refund never exceeds what was paid")
    refund = Refund.objects.create(
        refund_no=ids.public_number("R"),
        payment=payment,
        amount_fen=amount_fen,
        reason=reason,
        created_at=clock.now(),
    )
    ledger.post(
        kind="refund_requested",
        reference=refund.refund_no,
        lines=[(from_account, amount_fen), (ledger.REFUNDS_PAYABLE, -amount_fen)],
    )
    log_action(
        action="refund.requested",
        obj=refund,
        source=Source.SYSTEM,
        data={"order_no": payment.order.order_no, "amount_fen": amount_fen, "reason": reason},
    )
    outbox.enqueue(topic=REFUND_TOPIC, payload={"refund_no": refund.refund_no})
    return refund


def execute_refund(payload: dict) -> None:
    """Outbox handler: asks the channel to pay the refund back; retried until the channel confirms.

    The channel call happens outside any transaction and is idempotent at the channel by our refund number; the
    confirmation is then applied once, under the refund's row lock.
    """
    refund = Refund.objects.select_related("payment__order").filter(refund_no=payload["refund_no"]).first()
    if refund is None:
        raise DomainError(PaymentErrorCode.UNKNOWN_REFUND, refund_no=payload["refund_no"])
    if refund.status == Refund.Status.SUCCEEDED:
        return
    payment = refund.payment
    result = get_channel(payment.channel).refund(
        out_trade_no=payment.order.order_no,
        out_refund_no=refund.refund_no,
        refund_fen=refund.amount_fen,
        total_fen=payment.amount_fen,
        reason=refund.get_reason_display(),
        channel_trade_no=payment.channel_trade_no,
    )
    if result.status != Outcome.SUCCEEDED:
        raise outbox.RetryLater(f"refund {refund.refund_no} {result.status}: {result.message}")
    if not refund_amount_matches(refund, result):
        raise outbox.RetryLater(
            f"refund {refund.refund_no}: the channel reports {result.amount_fen} fen, not {refund.amount_fen}"
        )
    _confirm_refund(refund_id=refund.pk, channel_refund_no=result.channel_refund_no)


def refund_amount_matches(refund: Refund, result: RefundResult) -> bool:
    """A refund the channel says it made is confirmed only for the amount we asked: another amount (a channel or
    a replayed answer about another refund) is an anomaly for the console, never a confirmation. An answer that
    names no amount (Alipay's alipay.trade.refund: its refund_fee is the trade's running total) is taken by its
    status alone."""
    return result.amount_fen is None or result.amount_fen == refund.amount_fen


def confirm_refund(*, refund: Refund, channel_refund_no: str, source: str) -> None:
    """The channel says the refund was paid (its answer to our query): applied once, as execute_refund would."""
    _confirm_refund(refund_id=refund.pk, channel_refund_no=channel_refund_no, source=source)


@locking.retried_atomic
def _confirm_refund(*, refund_id: int, channel_refund_no: str, source: str = Source.CHANNEL) -> None:
    # The order before its refund: the lock order (docs/architecture.md); mark_refunded works on that order.
    orders.lock_order(Refund.objects.values_list("payment__order__order_no", flat=True).get(pk=refund_id))
    refund = locking.lock_one(Refund.objects.select_related("payment__order").filter(pk=refund_id))
    if refund.status == Refund.Status.SUCCEEDED:
        return
    payment = refund.payment
    refund.status, refund.succeeded_at, refund.channel_refund_no = (
        Refund.Status.SUCCEEDED,
        clock.now(),
        channel_refund_no,
    )
    refund.save(update_fields=["status", "succeeded_at", "channel_refund_no"])
    ledger.post(
        kind="refund_paid",
        reference=refund.refund_no,
        lines=[
            (ledger.REFUNDS_PAYABLE, refund.amount_fen),
            (ledger.channel_account(payment.channel), -refund.amount_fen),
        ],
    )
    log_action(
        action="refund.succeeded",
        obj=refund,
        source=source,
        data={"order_no": payment.order.order_no, "amount_fen": refund.amount_fen},
    )
    orders.mark_refunded(
        order_no=payment.order.order_no,
        whole_order=refund.reason in (Refund.Reason.OUT_OF_STOCK, Refund.Reason.ORDER_CLOSED),
    )
