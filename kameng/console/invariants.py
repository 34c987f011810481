"""The promises the shop's data must keep, checked in the database after a load test, a fault test or a restore.

Each check returns the offending references (empty when the promise holds). The channel-side checks read the sandbox
gateway's own books, so they prove what the "channel" saw, not only what we recorded.
"""

from collections.abc import Callable
from io import StringIO

from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, F, Q, Sum

from kameng.core.backups import BackupError
from kameng.inventory.models import CardKey
from kameng.membership.models import Cancellation, Charge, Membership
from kameng.orders.models import Order
from kameng.payments import ledger
from kameng.payments.models import LedgerEntry, Payment, Refund
from kameng.sandbox.models import SandboxRefund, SandboxTrade

LIMIT = 20  # references listed per broken promise; the count is always complete


def _refs(queryset, field: str) -> list[str]:
    return [str(value) for value in queryset.values_list(field, flat=True)[:LIMIT]]


def delivered_orders_with_wrong_key_count() -> list[str]:
    """A delivered goods order holds exactly its quantity of keys (so no key went to two orders)."""
    orders = (
        Order.objects.filter(kind=Order.Kind.GOODS, status=Order.Status.DELIVERED, product__delivery="auto")
        .annotate(keys=Count("card_keys"))
        .exclude(keys=F("quantity"))
    )
    return _refs(orders, "order_no")


def sold_keys_outside_delivered_orders() -> list[str]:
    keys = CardKey.objects.filter(status=CardKey.Status.SOLD).exclude(
        order__status__in=[Order.Status.DELIVERED, Order.Status.REFUNDED]
    )
    return _refs(keys, "pk")


def unbalanced_ledger_entries() -> list[str]:
    entries = LedgerEntry.objects.annotate(total=Sum("lines__amount_fen")).exclude(total=0)
    found = _refs(entries, "reference")
    if not found and ledger.total() != 0:
        found = [f"ledger total {ledger.total()}"]
    return found


def periods_paid_twice() -> list[str]:
    """One period, one payment kept: payments on a charge's orders, less those refunded in full, are at most one."""
    kept = Payment.objects.annotate(
        refunded=Sum("refunds__amount_fen", filter=Q(refunds__status=Refund.Status.SUCCEEDED))
    ).filter(Q(refunded__isnull=True) | Q(refunded__lt=F("amount_fen")))
    charges = (
        Charge.objects.filter(tries__order__payments__in=kept)
        .annotate(kept=Count("tries__order__payments", distinct=True))
        .filter(kept__gt=1)
    )
    return [f"{c.membership_id}#{c.period_index}" for c in charges[:LIMIT]]


def refunds_above_payment() -> list[str]:
    payments = Payment.objects.annotate(refunded=Sum("refunds__amount_fen")).filter(
        refunded__gt=F("amount_fen")
    )
    return _refs(payments, "channel_trade_no")


# One query by hand: the same as nested Exists() querysets, whose Python-side building cost four times the query.
_VIP_PRICE_KEPT = """
SELECT o.order_no FROM {order} o
WHERE o.kind = %s AND o.discount_fen > 0 AND o.status IN (%s, %s, %s)
  AND EXISTS (
    SELECT 1 FROM {cancellation} c JOIN {membership} m ON m.id = c.membership_id
    WHERE m.user_id = o.user_id AND c.mode = %s AND c.refund_fen > 0
      AND m.current_period_start <= o.created_at AND c.received_at <= o.paid_at
      AND NOT EXISTS (
        SELECT 1 FROM {membership} later
        WHERE later.user_id = o.user_id AND later.created_at > m.created_at AND later.created_at <= o.created_at
      )
  )
ORDER BY o.id LIMIT %s
"""


def vip_price_kept_after_fee_refunded() -> list[str]:
    """No member keeps both the refund of a period's fee and that period's VIP price (docs/rules.md#5-cancellation).

    Precisely: an immediate cancellation that refunded money (in full or in part) leaves no goods order of that
    member at a VIP price (discount_fen > 0), created in the refunded period (from its start; after the cancel
    too, unless a later membership of the member had begun by then), paid after the cancellation was received and
    kept (paid, waiting to be fulfilled or delivered, not refunded). Orders paid before the cancellation are not
    this check's business: their savings are what the refund deducts. Lists the orders."""
    sql = _VIP_PRICE_KEPT.format(
        order=Order._meta.db_table,
        cancellation=Cancellation._meta.db_table,
        membership=Membership._meta.db_table,
    )
    kept = [Order.Status.PAID, Order.Status.FULFILLING, Order.Status.DELIVERED]
    params = [Order.Kind.GOODS.value, *(s.value for s in kept), Cancellation.Mode.IMMEDIATE.value, LIMIT]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def channel_payments_not_recorded() -> list[str]:
    """Money the channel took that the shop does not know about (a lost notification or a charge done twice)."""
    if not settings.KAMENG_SANDBOX:
        return []
    recorded = Payment.objects.values_list("channel_trade_no", flat=True)
    trades = SandboxTrade.objects.filter(status=SandboxTrade.Status.PAID).exclude(trade_no__in=recorded)
    return _refs(trades, "out_trade_no")


def channel_refunds_paid_twice() -> list[str]:
    if not settings.KAMENG_SANDBOX:
        return []
    twice = SandboxRefund.objects.values("out_refund_no").annotate(n=Count("id")).filter(n__gt=1)
    return [row["out_refund_no"] for row in twice[:LIMIT]]


# The promises kept in the shop's own tables: cheap enough (a query or two each) to check after every test.
DATA_CHECKS = {
    "delivered_orders_with_wrong_key_count": delivered_orders_with_wrong_key_count,
    "sold_keys_outside_delivered_orders": sold_keys_outside_delivered_orders,
    "unbalanced_ledger_entries": unbalanced_ledger_entries,
    "periods_paid_twice": periods_paid_twice,
    "refunds_above_payment": refunds_above_payment,
    "vip_price_kept_after_fee_refunded": vip_price_kept_after_fee_refunded,
}
# The promises that compare our records with the channel's books (the sandbox's tables when it is the channel).
CHANNEL_CHECKS = {
    "channel_payments_not_recorded": channel_payments_not_recorded,
    "channel_refunds_paid_twice": channel_refunds_paid_twice,
}
CHECKS = {**DATA_CHECKS, **CHANNEL_CHECKS}


def find_violations(checks: dict[str, Callable[[], list[str]]] | None = None) -> dict[str, list[str]]:
    """Every broken promise by name (of `checks`, all of them by default); an empty dict when the data is sound."""
    found = {name: check() for name, check in (CHECKS if checks is None else checks).items()}
    return {name: refs for name, refs in found.items() if refs}


def hold_after_restore() -> str:
    """core.backups' restore check: the restored data keeps every promise (the same run as `check_invariants`)."""
    out = StringIO()
    try:
        call_command("check_invariants", stdout=out)
    except CommandError as exc:
        raise BackupError(f"restored, but check_invariants failed: {exc}\n{out.getvalue()}") from None
    return "check_invariants: every promise holds"
