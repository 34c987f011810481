"""The VIP price and the refund of the fee that bought it never go together (docs/rules.md#5-cancellation).

Two halves, both under the membership's row lock, which every membership change takes first:
* checkout commits a VIP price only after re-reading the member's status under that lock
  (`held_vip_discount_percent`, catalog.pricing's `held_discount_percent`);
* an immediate cancel that refunds money locks the member's unpaid VIP-priced orders of the period before it
  computes the refund (`lock_open_vip_orders`), then closes them (`close_vip_orders`): their keys go back to stock
  and a payment that still arrives for one is refunded in full, nothing delivered (orders.apply_payment).
So an order is either priced and paid before the cancel (its saving is in the refund's quote), or closed by it, or
priced after it at the list price.
"""

from kameng.core import locking
from kameng.membership.models import Membership
from kameng.membership.selectors import open_vip_orders
from kameng.orders import services as orders
from kameng.orders.models import Order


def held_vip_discount_percent(user) -> int:
    """The member's VIP discount read under their membership's row lock, inside the caller's transaction; 0 when
    the membership is not active (e.g. an immediate cancel committed while the caller waited for the lock)."""
    membership = locking.lock_one(
        Membership.objects.filter(user=user, status__in=Membership.LIVE).select_related("plan")
    )
    if (
        membership is None
        or membership.status != Membership.Status.ACTIVE
        or not membership.plan.perk_vip_price
    ):
        return 0
    return membership.plan.discount_percent


def lock_open_vip_orders(membership: Membership) -> list[Order]:
    """Locks the member's unpaid orders priced at this membership's VIP price in its current period (the caller
    holds the membership, and orders come after it in the lock order). A payment of one that was in flight has
    committed by the time the lock is granted, so its saving is counted by a quote computed after this."""
    return locking.lock(open_vip_orders(membership=membership))


def close_vip_orders(*, orders_to_close: list[Order], source: str, actor=None) -> list[dict]:
    """Closes them for good (the period's fee is being refunded) and returns what the receipt lists."""
    closed = []
    for order in orders_to_close:
        if orders.close_unpaid_order(
            order=order, reason=Order.ClosedReason.VIP_FEE_REFUNDED, source=source, actor=actor
        ):
            closed.append(
                {
                    "order_no": order.order_no,
                    "subject": order.subject,
                    "amount_fen": order.amount_fen,
                    "discount_fen": order.discount_fen,
                }
            )
    return closed
