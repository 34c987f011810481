"""The refund policy (docs/rules.md#5-cancellation), as one pure computation anyone can redo by hand.

period plans, cancelled immediately:
    total_days     = days in the current paid period
    used_days      = days started since the period began (at least 1)
    remaining_days = total_days − used_days
    prorated_fen   = round_half_up(paid_fen × remaining_days / total_days)
    deducted_fen   = VIP savings on orders paid in this period (refunded orders excluded), if the plan deducts them
    refund_fen     = max(0, prorated_fen − deducted_fen)
within the plan's window (48 h) of the charge and no VIP saving used since: refund_fen = paid_fen (误购 / 误续费)
lifetime plans after the window: 0, or with a penalty p %: max(0, paid − round_half_up(paid × p / 100) − all savings)

A quote also says which unpaid VIP-priced orders an immediate cancel would close, and carries a fingerprint of
everything it was computed from except the clock: the period and its charge, the plan's terms, the savings, those
orders. A quote whose fingerprint no longer matches is stale (`kameng/membership/quotes.py`).
"""

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta

from kameng.core import clock
from kameng.core.money import round_half_up
from kameng.membership.models import Charge, Membership, Period
from kameng.membership.selectors import open_vip_orders, savings_fen


@dataclass(frozen=True)
class RefundQuote:
    rule: str  # full_within_window | pro_rata | lifetime_penalty | lifetime_no_refund | nothing_paid
    refund_fen: int
    paid_fen: int
    total_days: int
    used_days: int
    remaining_days: int
    prorated_fen: int
    deducted_fen: int
    penalty_fen: int
    window_ends_at: datetime | None
    quoted_at: datetime
    period_index: int
    # The unpaid orders at this membership's VIP price that an immediate cancel paying this refund closes.
    closes_orders: tuple[str, ...] = ()
    # A digest of the quote's inputs, time aside (quote_refund): equal fingerprints, same inputs.
    fingerprint: str = ""

    def as_dict(self) -> dict:
        data = asdict(self)
        data["closes_orders"] = list(self.closes_orders)
        data["window_ends_at"] = clock.iso(self.window_ends_at)
        data["quoted_at"] = clock.iso(self.quoted_at)
        return data


def _days(start: datetime, end: datetime) -> int:
    return (clock.local(end).date() - clock.local(start).date()).days


def compute_quote(
    *,
    period: str,
    paid_fen: int,
    period_start: datetime,
    period_end: datetime | None,
    charged_at: datetime,
    now: datetime,
    window_hours: int,
    deduct_savings: bool,
    savings_period_fen: int,
    savings_since_charge_fen: int,
    savings_total_fen: int,
    lifetime_penalty_percent: int | None,
    period_index: int = 0,
) -> RefundQuote:
    """The formula alone, on plain numbers (the table-driven tests call this)."""
    window_ends_at = charged_at + timedelta(hours=window_hours)
    base = {
        "paid_fen": paid_fen,
        "window_ends_at": window_ends_at,
        "quoted_at": now,
        "period_index": period_index,
    }
    if period == Period.LIFETIME:
        total = used = remaining = 0
    else:
        total = max(1, _days(period_start, period_end))
        used = min(total, max(1, (now - period_start) // timedelta(days=1) + 1))
        remaining = total - used
    shape = {"total_days": total, "used_days": used, "remaining_days": remaining}
    if now <= window_ends_at and savings_since_charge_fen == 0:
        return RefundQuote(
            rule="full_within_window", refund_fen=paid_fen, prorated_fen=paid_fen, deducted_fen=0, penalty_fen=0,
            **shape, **base,
        )  # fmt: skip
    if period == Period.LIFETIME:
        if lifetime_penalty_percent is None:
            return RefundQuote(
                rule="lifetime_no_refund", refund_fen=0, prorated_fen=0, deducted_fen=0, penalty_fen=paid_fen,
                **shape, **base,
            )  # fmt: skip
        penalty = round_half_up(paid_fen * lifetime_penalty_percent, 100)
        refund = max(0, paid_fen - penalty - savings_total_fen)
        return RefundQuote(
            rule="lifetime_penalty", refund_fen=refund, prorated_fen=paid_fen, deducted_fen=savings_total_fen,
            penalty_fen=penalty, **shape, **base,
        )  # fmt: skip
    prorated = round_half_up(paid_fen * remaining, total)
    deducted = savings_period_fen if deduct_savings else 0
    return RefundQuote(
        rule="pro_rata", refund_fen=max(0, prorated - deducted), prorated_fen=prorated, deducted_fen=deducted,
        penalty_fen=0, **shape, **base,
    )  # fmt: skip


def quote_refund(*, membership: Membership, now: datetime | None = None) -> RefundQuote:
    """What cancelling this membership immediately would pay back now, and which orders it would close."""
    now = now or clock.now()
    plan = membership.plan
    charge = (
        Charge.objects.filter(
            membership=membership, period_index=membership.period_index, status=Charge.Status.SUCCEEDED
        ).first()
        if membership.status == Membership.Status.ACTIVE
        else None
    )
    open_orders = list(open_vip_orders(membership=membership).values_list("pk", "order_no"))
    savings = (0, 0, 0)
    if charge is None:  # past_due or over: the current period was never paid
        quote = RefundQuote(
            rule="nothing_paid", refund_fen=0, paid_fen=0, total_days=0, used_days=0, remaining_days=0,
            prorated_fen=0, deducted_fen=0, penalty_fen=0, window_ends_at=None, quoted_at=now,
            period_index=membership.period_index,
        )  # fmt: skip
    else:
        user = membership.user
        savings = (
            savings_fen(user=user, start=membership.current_period_start, end=membership.current_period_end),
            savings_fen(user=user, start=charge.succeeded_at),
            savings_fen(user=user, start=membership.anchor_at),
        )
        quote = compute_quote(
            period=plan.period,
            paid_fen=charge.amount_fen,
            period_start=membership.current_period_start,
            period_end=membership.current_period_end,
            charged_at=charge.succeeded_at,
            now=now,
            window_hours=plan.refund_window_hours,
            deduct_savings=plan.deduct_savings,
            savings_period_fen=savings[0],
            savings_since_charge_fen=savings[1],
            savings_total_fen=savings[2],
            lifetime_penalty_percent=plan.lifetime_penalty_percent,
            period_index=membership.period_index,
        )
    basis = {
        "membership": [membership.pk, membership.status, membership.period_index],
        "period": [clock.iso(membership.current_period_start), clock.iso(membership.current_period_end)],
        "charge": [charge.pk, charge.amount_fen, clock.iso(charge.succeeded_at)] if charge else None,
        "plan": [
            plan.period,
            plan.price_fen,
            plan.discount_percent,
            plan.refund_window_hours,
            plan.deduct_savings,
            plan.lifetime_penalty_percent,
        ],
        "savings": list(savings),
        "open_vip_orders": [pk for pk, _ in open_orders],
    }
    return replace(
        quote,
        closes_orders=tuple(order_no for _, order_no in open_orders) if quote.refund_fen > 0 else (),
        fingerprint=fingerprint(basis),
    )


def fingerprint(basis: dict) -> str:
    """A short digest of a quote's inputs (plain JSON values): the same inputs give the same fingerprint."""
    text = json.dumps(basis, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]
