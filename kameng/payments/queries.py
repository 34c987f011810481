"""Active status queries: the shop asks the channel about trades and refunds it was not told the outcome of.

Notifications are not enough: a channel gives up re-sending after a while, a proxy or an outage can eat every try,
and a charge's synchronous answer can be lost on the way back. "Paid but not delivered" follows, the most reported
defect of open-source card shops. So a sweep asks (docs/channels.md, Active queries):

* an order still awaiting payment QUERY_AFTER after it was placed, then again with a growing back-off, until it
  expires; then once more, and, if unpaid, its trade is closed at the channel (`close_trade`) so that it can no
  longer be paid. A payment that lands anyway (a cashier page kept open) is recorded and delivered or refunded by
  the late-payment rules, like any late payment;
* a charge of an agreement whose outcome is unknown (no answer, or "pending"): asked until the channel says paid
  or closed; closed is a definite refusal, applied by the app that charges agreements (`events.agreement_charges`);
* a refund not confirmed QUERY_AFTER after it was asked for.

A PAID answer goes exactly the way a notification goes (`services.record_payment`: idempotent by the channel's trade
number, the amount and the channel checked), audit-logged with the source "query". Each order's trade and each
refund has one `ChannelQuery` row with its back-off; a run claims at most `limit` of them (SKIP LOCKED, many workers
at once), and calls the channel outside any transaction. The console's 查询渠道状态 asks the same way, at once.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Min, Q, QuerySet

from kameng.core import clock, locking, sweeps
from kameng.core.audit import Source, log_action
from kameng.core.http import TransportError
from kameng.orders.models import Order
from kameng.payments import events, services
from kameng.payments.channels.base import Outcome, RefundResult, TradeState, TradeStatus
from kameng.payments.channels.errors import ChannelProtocolError
from kameng.payments.channels.registry import get_channel
from kameng.payments.events import Rejected
from kameng.payments.models import ChannelQuery, Payment, Refund

log = logging.getLogger(__name__)
QUERY_AFTER = timedelta(minutes=3)  # a buyer back from the cashier is normally told within seconds
BACKOFF_SECONDS = (
    60,
    120,
    240,
    480,
    900,
    1800,
    3600,
    7200,
    21600,
)  # after the 1st, 2nd, … query; then the last
GIVE_UP_AFTER = timedelta(
    days=7
)  # a trade or refund still without a final answer then is left to the console
# A trade the channel has never heard of (NOT_FOUND) is final only this long after the order expired: the buyer
# may still be opening a cashier link, which creates the trade. Every link carries the order's expiry as the
# trade's own (Alipay time_expire, WeChat time_expire), so the channel takes no payment after it; the margin is
# for the channel's clock, which decides (docs/channels.md, Active queries).
NOT_FOUND_FINAL_AFTER = timedelta(minutes=10)
LOOKBACK = timedelta(days=2)  # unpaid orders older than this when the sweep first runs are not asked about
BATCH = 50
_CHANNEL_TROUBLE = (TransportError, ChannelProtocolError, LookupError)


class Applied:
    """What the shop did with the channel's answer."""

    NOTHING = ""
    PAYMENT_RECORDED = "payment_recorded"
    PAYMENT_REJECTED = (
        "payment_rejected"  # paid, but not as the order says (amount, channel): logged, not counted
    )
    CHARGE_REFUSED = "charge_refused"
    TRADE_CLOSED = "trade_closed"  # closed at the channel by us: never payable now
    REFUND_CONFIRMED = "refund_confirmed"


@dataclass(frozen=True)
class Answer:
    """The channel's answer to one query and what was done with it (for the console)."""

    state: str  # a TradeState, or for a refund an Outcome
    message: str = ""
    applied: str = Applied.NOTHING
    detail: str = ""


# --- the sweep ------------------------------------------------------------------------------------------------------


def query_due(*, limit: int = 200) -> int:
    """Sweep: enrols what needs asking, then asks the channel about at most `limit` due trades and refunds."""
    _enrol(limit=limit)
    asked = 0
    for query_id in sweeps.lease_due(due=_due_queries, lease=_lease, limit=limit, batch=BATCH):
        query = ChannelQuery.objects.select_related("order", "refund__payment").get(pk=query_id)
        if query.kind == ChannelQuery.Kind.REFUND:
            _ask_refund(query)
        else:
            _ask_trade(query)
        asked += 1
    return asked


def next_query_due() -> datetime | None:
    moments = [
        ChannelQuery.objects.aggregate(at=Min("next_query_at"))["at"],
        *(
            at + QUERY_AFTER
            for at in (
                _unasked_orders(at=None).aggregate(at=Min("created_at"))["at"],
                _unasked_refunds(at=None).aggregate(at=Min("created_at"))["at"],
            )
            if at is not None
        ),
    ]
    return min((m for m in moments if m is not None), default=None)


def _unasked_orders(*, at: datetime | None) -> QuerySet[Order]:
    """Unpaid orders with no query yet (an unknown charge of any age; other orders of the last LOOKBACK)."""
    charges = events.agreement_charges()
    moment = at or clock.now()
    cashier = Order.objects.filter(
        status__in=[Order.Status.PENDING_PAYMENT, Order.Status.EXPIRED],
        paid_at__isnull=True,
        created_at__gte=moment - LOOKBACK,
    ).exclude(pk__in=charges.orders().values("pk"))
    unasked = cashier | Order.objects.filter(pk__in=charges.unsettled().values("pk"))
    unasked = unasked.exclude(channel_queries__kind=ChannelQuery.Kind.TRADE)
    return unasked if at is None else unasked.filter(created_at__lte=at - QUERY_AFTER)


def _unasked_refunds(*, at: datetime | None) -> QuerySet[Refund]:
    unasked = Refund.objects.filter(status=Refund.Status.PENDING, channel_query__isnull=True)
    return unasked if at is None else unasked.filter(created_at__lte=at - QUERY_AFTER)


def _enrol(*, limit: int) -> None:
    """One ChannelQuery per order and per refund to ask about, due now; two workers enrolling at once meet on the
    unique constraints (ignore_conflicts), never twice."""
    now, charges = clock.now(), events.agreement_charges()
    orders = list(_unasked_orders(at=now).order_by("created_at").values_list("pk", flat=True)[:limit])
    charging = set(charges.orders().filter(pk__in=orders).values_list("pk", flat=True))
    refunds = list(
        _unasked_refunds(at=now).order_by("created_at").values_list("pk", "payment__order_id")[:limit]
    )
    ChannelQuery.objects.bulk_create(
        [
            ChannelQuery(
                kind=ChannelQuery.Kind.TRADE,
                order_id=pk,
                agreement_charge=pk in charging,
                created_at=now,
                next_query_at=now,
            )
            for pk in orders
        ]
        + [
            ChannelQuery(
                kind=ChannelQuery.Kind.REFUND,
                order_id=order_id,
                refund_id=pk,
                created_at=now,
                next_query_at=now,
            )
            for pk, order_id in refunds
        ],
        ignore_conflicts=True,
    )


def _due_queries() -> QuerySet[ChannelQuery]:
    return ChannelQuery.objects.filter(next_query_at__lte=clock.now()).order_by("next_query_at", "id")


def _lease(query: ChannelQuery) -> int:
    """In the claim: the next query is pushed out by the back-off, so a worker that dies leaves it for later."""
    query.attempts += 1
    step = BACKOFF_SECONDS[min(query.attempts, len(BACKOFF_SECONDS)) - 1]
    query.next_query_at = clock.now() + timedelta(seconds=step)
    query.save(update_fields=["attempts", "next_query_at"])
    return query.pk


# --- asking about a trade -------------------------------------------------------------------------------------------


def _channel_call(channel: str, method: str):
    """The adapter's method, or LookupError for a channel whose adapter cannot be asked this yet."""
    call = getattr(get_channel(channel), method, None)
    if call is None:
        raise LookupError(f"the {channel} adapter has no {method}")
    return call


def _trade_status(order: Order, *, agreement_charge: bool) -> TradeStatus:
    try:
        return _channel_call(order.channel, "query_trade")(
            out_trade_no=order.order_no, agreement_charge=agreement_charge
        )
    except _CHANNEL_TROUBLE as exc:
        return TradeStatus(TradeState.UNKNOWN, message=f"{type(exc).__name__}: {exc}"[:200])


def _ask_trade(query: ChannelQuery, *, actor=None) -> Answer:
    order = query.order
    if actor is None and _nothing_to_ask(query):
        _settle(query_id=query.pk, state=query.last_state, message="settled without asking")
        return Answer(state=query.last_state)
    status = _trade_status(order, agreement_charge=query.agreement_charge)
    answer = _apply_trade(query_id=query.pk, status=status, actor=actor)
    still_payable = order.status == Order.Status.PENDING_PAYMENT and order.expires_at > clock.now()
    if answer.applied or query.agreement_charge or still_payable:
        return answer
    if status.state == TradeState.NOT_FOUND and clock.now() < order.expires_at + NOT_FOUND_FINAL_AFTER:
        return answer  # nothing to close yet, and a cashier link may still create it: asked again
    if status.state in (TradeState.WAITING, TradeState.NOT_FOUND):
        return _close_expired(query, answer)
    return answer


def _nothing_to_ask(query: ChannelQuery) -> bool:
    """Told meanwhile (a notification, the charge's own answer): nothing left to find out."""
    if query.agreement_charge:
        return not events.agreement_charges().unsettled().filter(pk=query.order_id).exists()
    return Order.objects.filter(pk=query.order_id, paid_at__isnull=False).exists()


def _close_expired(query: ChannelQuery, answer: Answer) -> Answer:
    """The order expired unpaid: its trade is closed at the channel so that it can never be paid now."""
    try:
        closed = _channel_call(query.order.channel, "close_trade")(out_trade_no=query.order.order_no)
    except _CHANNEL_TROUBLE as exc:
        log.warning("closing %s at the channel failed: %s", query.order.order_no, exc)
        closed = False
    if not closed:  # paid meanwhile, or not answered: the next query tells
        return answer
    with transaction.atomic():
        locking.lock_one(ChannelQuery.objects.filter(pk=query.pk))
        ChannelQuery.objects.filter(pk=query.pk).update(
            closed_at_channel=clock.now(), settled_at=clock.now(), next_query_at=None
        )
        log_action(
            action="payment.trade_closed_at_channel",
            obj=query.order,
            source=Source.QUERY,
            data={"order_no": query.order.order_no, "channel": query.order.channel, "state": answer.state},
        )
    return Answer(state=answer.state, message=answer.message, applied=Applied.TRADE_CLOSED)


@locking.retried_atomic
def _apply_trade(*, query_id: int, status: TradeStatus, actor) -> Answer:
    query = ChannelQuery.objects.select_related("order").get(pk=query_id)
    order, applied, detail = query.order, Applied.NOTHING, ""
    settled = False
    try:
        with (
            transaction.atomic()
        ):  # a savepoint: a refused answer leaves the query's own record to be written
            if (
                status.state == TradeState.PAID
                and Payment.objects.filter(
                    channel=order.channel, channel_trade_no=status.channel_trade_no
                ).exists()
            ):
                detail, settled = "already recorded", True
            elif status.state == TradeState.PAID:
                services.record_payment(
                    channel=order.channel,
                    out_trade_no=order.order_no,
                    channel_trade_no=status.channel_trade_no,
                    amount_fen=status.amount_fen,
                    source=Source.QUERY,
                )
                applied, settled = Applied.PAYMENT_RECORDED, True
            elif status.state == TradeState.CLOSED and query.agreement_charge:
                if events.agreement_charges().unsettled().filter(pk=order.pk).exists():
                    services.refuse_charge(
                        channel=order.channel,
                        order_no=order.order_no,
                        reason=f"query: {status.message or 'closed'}"[:200],
                        source=Source.QUERY,
                    )
                    applied = Applied.CHARGE_REFUSED
                settled = True
            elif status.state == TradeState.CLOSED:
                settled = True  # closed at the channel: nothing can be paid under this number
    except Rejected as exc:
        applied, detail, settled = Applied.PAYMENT_REJECTED, str(exc), True
        log.warning("query answer for %s not applied: %s", order.order_no, exc)
    if clock.now() - query.created_at > GIVE_UP_AFTER:
        settled = True  # left to the console's 查询渠道状态
    _record(query, state=status.state, message=status.message or detail, settled=settled)
    if actor is not None or applied:
        log_action(
            action="payment.channel_queried",
            obj=order,
            actor=actor,
            source=Source.ADMIN if actor is not None else Source.QUERY,
            data={
                "order_no": order.order_no,
                "channel": order.channel,
                "channel_state": status.state,
                "channel_trade_no": status.channel_trade_no,
                "message": status.message,
                "applied": applied,
                "detail": detail,
            },
        )
    return Answer(state=status.state, message=status.message, applied=applied, detail=detail)


# --- asking about a refund ------------------------------------------------------------------------------------------


def _ask_refund(query: ChannelQuery, *, actor=None) -> Answer:
    refund = query.refund
    if actor is None and refund.status == Refund.Status.SUCCEEDED:
        _settle(query_id=query.pk, state=Outcome.SUCCEEDED, message="confirmed meanwhile")
        return Answer(state=Outcome.SUCCEEDED)
    try:
        result = _channel_call(refund.payment.channel, "query_refund")(
            out_trade_no=query.order.order_no, out_refund_no=refund.refund_no
        )
    except _CHANNEL_TROUBLE as exc:
        result = RefundResult(Outcome.PENDING, message=f"{type(exc).__name__}: {exc}"[:200])
    applied = Applied.NOTHING
    if result.status == Outcome.SUCCEEDED and not services.refund_amount_matches(refund, result):
        log.warning("refund %s: the channel reports %s fen", refund.refund_no, result.amount_fen)
        result = RefundResult(
            Outcome.PENDING,
            message=f"the channel reports {result.amount_fen} fen, we asked {refund.amount_fen}",
        )  # not confirmed; asked again, and left to the console after GIVE_UP_AFTER
    if result.status == Outcome.SUCCEEDED and refund.status != Refund.Status.SUCCEEDED:
        services.confirm_refund(
            refund=refund, channel_refund_no=result.channel_refund_no, source=Source.QUERY
        )
        applied = Applied.REFUND_CONFIRMED
    # Not made at the channel (FAILED): the refund's own outbox message asks for it again; we keep watching.
    settled = result.status == Outcome.SUCCEEDED or clock.now() - query.created_at > GIVE_UP_AFTER
    with transaction.atomic():
        _record(query, state=result.status, message=result.message, settled=settled)
        if actor is not None or applied:
            log_action(
                action="refund.channel_queried",
                obj=refund,
                actor=actor,
                source=Source.ADMIN if actor is not None else Source.QUERY,
                data={
                    "refund_no": refund.refund_no,
                    "order_no": query.order.order_no,
                    "channel_state": result.status,
                    "message": result.message,
                    "applied": applied,
                },
            )
    return Answer(state=result.status, message=result.message, applied=applied)


# --- the row's record -----------------------------------------------------------------------------------------------


def _record(query: ChannelQuery, *, state: str, message: str, settled: bool) -> None:
    """Inside the caller's transaction: what the channel said last; settled ones are not asked again."""
    now = clock.now()
    changes = {"last_state": state, "last_message": message[:255], "last_queried_at": now}
    if settled:
        changes |= {"settled_at": now, "next_query_at": None}
    ChannelQuery.objects.filter(pk=query.pk).update(**changes)


def _settle(*, query_id: int, state: str, message: str) -> None:
    ChannelQuery.objects.filter(pk=query_id).update(
        last_state=state, last_message=message, settled_at=clock.now(), next_query_at=None
    )


# --- the console's 查询渠道状态 --------------------------------------------------------------------------------------


def query_order(*, order: Order, actor) -> Answer:
    """Asks the channel about an order's trade now and applies the answer as the sweep would; audit-logged with who
    asked and what the channel said, whatever it said. An expired unpaid trade is closed at the channel too."""
    charging = events.agreement_charges().orders().filter(pk=order.pk).exists()
    query, _ = ChannelQuery.objects.get_or_create(
        kind=ChannelQuery.Kind.TRADE,
        order=order,
        defaults={"agreement_charge": charging, "created_at": clock.now(), "next_query_at": None},
    )
    if order.paid_at is not None:  # paid already: ask and show, never close
        return _apply_trade(
            query_id=query.pk, status=_trade_status(order, agreement_charge=charging), actor=actor
        )
    return _ask_trade(query, actor=actor)


def query_refund(*, refund: Refund, actor) -> Answer:
    """Asks the channel about a refund now; a refund it says was made is confirmed here, once."""
    query, _ = ChannelQuery.objects.get_or_create(
        kind=ChannelQuery.Kind.REFUND,
        refund=refund,
        defaults={"order": refund.payment.order, "created_at": clock.now(), "next_query_at": None},
    )
    query = ChannelQuery.objects.select_related("order", "refund__payment").get(pk=query.pk)
    return _ask_refund(query, actor=actor)


def queries_of(order: Order) -> QuerySet[ChannelQuery]:
    return ChannelQuery.objects.filter(Q(order=order)).order_by("kind", "id")
