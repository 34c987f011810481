"""A given-up renewal charge's trade is closed at the channel (docs/rules.md#renewal-schedule).

A cycle is given up with an attempt still open at the channel: accepted and never decided (Alipay's 10003, the
buyer still "paying"; WeChat's 受理 with no result), or never answered. Left open, it could be paid after its window,
charging the member for a period we no longer renew. So `renewals._give_up` queues this outbox message, run after
its transaction and outside any: `close_trade(agreement_charge=True)` (alipay.trade.close; WeChat pay/closeorder),
idempotent at the channel. A trade that cannot be closed because it was paid meanwhile is recorded as any payment
(the membership app then sends the money back: the cycle was given up); one not answered is asked again later.
"""

import logging

from kameng.core import locking, outbox
from kameng.core.audit import Source, log_action
from kameng.orders.models import Order
from kameng.payments import services as payments
from kameng.payments.channels.base import TradeState
from kameng.payments.channels.registry import get_channel
from kameng.payments.events import Rejected

log = logging.getLogger(__name__)
CLOSE_TOPIC = "membership.close_charge"


def close_given_up_trade(payload: dict) -> None:
    """Outbox handler; raises (and is retried) until the channel says the trade is closed, never made, or paid."""
    order = Order.objects.get(order_no=payload["order_no"])
    channel = get_channel(order.channel)
    if channel.close_trade(out_trade_no=order.order_no, agreement_charge=True):
        log_action(
            action="membership.charge_closed_at_channel",
            obj=order,
            source=Source.SYSTEM,
            data={"order_no": order.order_no, "channel": order.channel},
        )
        return
    status = channel.query_trade(out_trade_no=order.order_no, agreement_charge=True)
    if status.state == TradeState.CLOSED:
        return
    if status.state != TradeState.PAID:
        raise outbox.RetryLater(f"trade {order.order_no} not closed yet ({status.state})")
    try:  # paid before it could be closed: recorded (and refunded by the membership's rules), never lost
        locking.retried_atomic(payments.record_payment)(
            channel=order.channel,
            out_trade_no=order.order_no,
            channel_trade_no=status.channel_trade_no,
            amount_fen=status.amount_fen,
            source=Source.QUERY,
        )
    except Rejected as exc:
        log.warning("given-up charge %s paid but not recorded: %s", order.order_no, exc)
