"""The refund policy (docs/rules.md#5-cancellation), recomputed from a member's own history and nothing else.

This is the yardstick of the refund state machine (test_refund_state_machine.py). It never calls the shop's refund
code: it is written again from the words of the design, with `Decimal` (ROUND_HALF_UP) for the money and
`dateutil.relativedelta` for the period ends, and fed only facts a member can see: what they paid for each period and
when, which orders they paid at the VIP price and when, what came back, their receipts and the quotes they were shown.

    total_days     = days in the current paid period (calendar dates, Shanghai)
    used_days      = days started since the period began (24-hour days from its start, at least 1)
    remaining_days = total_days − used_days
    prorated_fen   = round_half_up(paid_fen × remaining_days / total_days)
    deducted_fen   = VIP savings on orders paid in this period (refunded orders excluded), if the plan deducts them
    refund_fen     = max(0, prorated_fen − deducted_fen)
    within 48 hours of the charge and no VIP saving used since: refund_fen = paid_fen
    lifetime after the window: 0, or with a penalty p %: max(0, paid − round_half_up(paid × p / 100) − all savings)
    a quote brought back within 30 minutes, for the same period, with no saving used since: paid at least the quote

Two views of "savings" give two bounds, both checked:

* `AT_CANCEL` counts what the design counts at the moment the cancel was received: orders paid in the period before
  it (not refunded by then).
* `KEPT` counts what the member ends up keeping: every VIP-priced order of the period (priced or paid in it) that
  is paid and not refunded today, however late it was paid. A refund above this bound means the member holds both
  the period's fee back and that period's VIP price (docs/rules.md#the-vip-price-goes-with-the-refund-of-its-fee).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONTHS = {"month": 1, "quarter": 3, "year": 12}
DAY = timedelta(days=1)
QUOTE_FRESH_FOR = timedelta(minutes=30)


def half_up(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Terms:
    """The plan's refund policy as shown before purchase."""

    period: str  # month | quarter | year | lifetime
    window_hours: int = 48
    deduct_savings: bool = True
    penalty_percent: int | None = None


@dataclass(frozen=True)
class Purchase:
    """A goods order: when it was priced (created), paid, refunded, and what the VIP price saved on it."""

    order_no: str
    created_at: datetime
    discount_fen: int
    paid_at: datetime | None = None
    refunded_at: datetime | None = None

    @property
    def kept(self) -> bool:
        return self.paid_at is not None and self.refunded_at is None


@dataclass(frozen=True)
class Paid:
    """Money paid for a membership order, and every refund of it (amount, when decided)."""

    order_no: str
    amount_fen: int
    paid_at: datetime
    refunds: tuple[tuple[int, datetime], ...] = ()

    @property
    def refunded_fen(self) -> int:
        return sum(amount for amount, _ in self.refunds)


@dataclass(frozen=True)
class Receipt:
    receipt_no: str
    mode: str  # end_of_period | immediate
    received_at: datetime
    refund_fen: int


@dataclass(frozen=True)
class Quote:
    taken_at: datetime
    refund_fen: int


@dataclass
class MembershipHistory:
    name: str
    terms: Terms
    payments: list[Paid]
    receipts: list[Receipt]
    quotes: list[Quote] = field(default_factory=list)  # every quote the member was shown for this membership
    brought: dict[str, list[Quote]] = field(default_factory=dict)  # receipt_no → quotes sent with its cancel


@dataclass(frozen=True)
class Period:
    index: int
    start: datetime
    end: datetime | None  # None: lifetime
    payment: Paid


# --- the timeline: which payment paid which period -----------------------------------------------------------------


def period_bounds(terms: Terms, anchor: datetime, index: int) -> tuple[datetime, datetime | None]:
    """Months from the anchor with the end-of-month clamp (Jan 31 + 1 month = Feb 28), in Shanghai time."""
    if terms.period not in MONTHS:
        return anchor, None
    local, months = anchor.astimezone(SHANGHAI), MONTHS[terms.period]
    return local + relativedelta(months=months * index), local + relativedelta(months=months * (index + 1))


def timeline(history: MembershipHistory) -> tuple[list[Period], list[Paid]]:
    """The periods paid, in order, and the stray payments: money taken after a cancellation was received (or a
    second payment of a lifetime plan), which starts no period."""
    first_cancel = min((r.received_at for r in history.receipts), default=None)
    periods: list[Period] = []
    stray: list[Paid] = []
    for paid in sorted(history.payments, key=lambda p: p.paid_at):
        late = first_cancel is not None and paid.paid_at >= first_cancel
        if periods and (late or history.terms.period not in MONTHS):
            stray.append(paid)
            continue
        anchor = periods[0].start if periods else paid.paid_at
        start, end = period_bounds(history.terms, anchor, len(periods))
        periods.append(Period(len(periods), start, end, paid))
    return periods, stray


def period_at(periods: list[Period], moment: datetime) -> Period | None:
    """The period being enjoyed at `moment`: the last one whose money had arrived."""
    paid = [p for p in periods if p.payment.paid_at <= moment]
    return paid[-1] if paid else None


# --- savings, in the two views --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Savings:
    """`of_period(period, at)`: VIP savings that count against `period` for a cancel at `at`; `since(moment, period,
    at)`: those of them used at or after `moment` (the charge, or a quote)."""

    of_period: Callable[[Period, datetime], int]
    since: Callable[[datetime, Period, datetime], int]


def _at_cancel(purchases: list[Purchase]) -> Savings:
    def counted(p: Purchase, period: Period, at: datetime) -> bool:
        if p.discount_fen <= 0 or p.paid_at is None or not (period.start <= p.paid_at < at):
            return False
        if period.end is not None and p.paid_at >= period.end:
            return False
        return p.refunded_at is None or p.refunded_at > at

    return Savings(
        of_period=lambda period, at: sum(p.discount_fen for p in purchases if counted(p, period, at)),
        since=lambda moment, period, at: sum(
            p.discount_fen for p in purchases if counted(p, period, at) and p.paid_at >= moment
        ),
    )


def _kept(purchases: list[Purchase]) -> Savings:
    def counted(p: Purchase, period: Period, at: datetime) -> bool:
        if p.discount_fen <= 0 or not p.kept:
            return False
        end = at if period.end is None else min(at, period.end)
        return period.start <= p.created_at < end or period.start <= p.paid_at < end

    return Savings(
        of_period=lambda period, at: sum(p.discount_fen for p in purchases if counted(p, period, at)),
        since=lambda moment, period, at: sum(
            p.discount_fen
            for p in purchases
            if counted(p, period, at) and (p.created_at >= moment or p.paid_at >= moment)
        ),
    )


AT_CANCEL, KEPT = "at_cancel", "kept"
VIEWS = {AT_CANCEL: _at_cancel, KEPT: _kept}


# --- the formula ----------------------------------------------------------------------------------------------------


def policy_fen(terms: Terms, period: Period, at: datetime, savings: Savings) -> int:
    """What the refund rule (docs/rules.md#5-cancellation) refunds for an immediate cancel of `period` received
    at `at`."""
    paid, charged_at = period.payment.amount_fen, period.payment.paid_at
    window_ends = charged_at + timedelta(hours=terms.window_hours)
    if at <= window_ends and savings.since(charged_at, period, at) == 0:
        return paid
    if period.end is None:  # lifetime: all savings of the membership are its one period's
        if terms.penalty_percent is None:
            return 0
        penalty = half_up(Decimal(paid) * terms.penalty_percent / 100)
        return max(0, paid - penalty - savings.of_period(period, at))
    total = (period.end.astimezone(SHANGHAI).date() - period.start.astimezone(SHANGHAI).date()).days
    used = min(total, max(1, (at - period.start) // DAY + 1))
    prorated = half_up(Decimal(paid) * (total - used) / total)
    deducted = savings.of_period(period, at) if terms.deduct_savings else 0
    return max(0, prorated - deducted)


def allowed_fen(history: MembershipHistory, period: Period, receipt: Receipt, savings: Savings) -> int:
    """The most the cancel may pay back: the policy when it was received, or a fresh quote brought to it (taken at
    most 30 minutes before, in the same period, no saving used since), whichever is more."""
    at = receipt.received_at
    best = policy_fen(history.terms, period, at, savings)
    for quote in history.brought.get(receipt.receipt_no, []):
        fresh = (
            quote.taken_at <= at <= quote.taken_at + QUOTE_FRESH_FOR
            and period_at(timeline(history)[0], quote.taken_at) == period
            and savings.since(quote.taken_at, period, at) == 0
        )
        if fresh:
            best = max(best, policy_fen(history.terms, period, quote.taken_at, savings))
    return best


# --- what must hold -------------------------------------------------------------------------------------------------


def violations(histories: list[MembershipHistory], purchases: list[Purchase]) -> list[str]:
    """Every way the member's history breaks the refund policy, in words; empty when it holds."""
    found: list[str] = []
    views = {name: view(purchases) for name, view in VIEWS.items()}
    for history in histories:
        periods, stray = timeline(history)
        immediate = [r for r in history.receipts if r.mode == "immediate"]
        if len(immediate) > 1:
            found.append(f"{history.name}: {len(immediate)} immediate cancellations")
        for quote in history.quotes:
            period = period_at(periods, quote.taken_at)
            most = policy_fen(history.terms, period, quote.taken_at, views[AT_CANCEL]) if period else 0
            if quote.refund_fen > most:
                found.append(
                    f"{history.name}: quote at {quote.taken_at:%m-%d %H:%M} promised {quote.refund_fen} fen, "
                    f"the policy {most}"
                )
        for period in periods:
            found += _period_refund(history, period, immediate, views)
        for paid in stray:
            if paid.refunded_fen != paid.amount_fen:
                found.append(
                    f"{history.name}: {paid.order_no} charged {paid.amount_fen} fen after a cancellation was "
                    f"received, {paid.refunded_fen} refunded"
                )
        for receipt in immediate:
            cancelled = period_at(periods, receipt.received_at)
            if receipt.refund_fen and not (cancelled and cancelled.payment.refunds):
                found.append(f"{history.name}: receipt {receipt.receipt_no} promises {receipt.refund_fen} fen, "
                             "no refund was made")  # fmt: skip
    found += _vip_price_outside_paid_periods(histories, purchases)
    return found


def _period_refund(history, period: Period, immediate: list[Receipt], views: dict[str, Savings]) -> list[str]:
    paid = period.payment
    if not paid.refunds:
        return []
    name = f"{history.name} period {period.index} ({paid.order_no}, paid {paid.amount_fen} fen)"
    if len(paid.refunds) > 1:
        return [f"{name}: {len(paid.refunds)} refunds of one period's fee"]
    cancel = next((r for r in immediate if period_at(timeline(history)[0], r.received_at) == period), None)
    if cancel is None:
        return [f"{name}: refunded {paid.refunded_fen} fen without an immediate cancellation"]
    found = []
    if cancel.refund_fen != paid.refunded_fen:
        found.append(f"{name}: receipt says {cancel.refund_fen} fen, {paid.refunded_fen} refunded")
    for view, savings in views.items():
        most = allowed_fen(history, period, cancel, savings)
        if paid.refunded_fen > most:
            found.append(
                f"{name}: refunded {paid.refunded_fen} fen for the cancel received "
                f"{cancel.received_at.astimezone(SHANGHAI):%m-%d %H:%M:%S}, the policy allows {most} "
                f"(savings counted {view}: {savings.of_period(period, cancel.received_at)} fen)"
            )
    return found


def _vip_price_outside_paid_periods(histories, purchases: list[Purchase]) -> list[str]:
    """A VIP price kept is a VIP price priced inside a paid period (cut short by an immediate cancel)."""
    spans = []
    for history in histories:
        periods, _ = timeline(history)
        cut = min((r.received_at for r in history.receipts if r.mode == "immediate"), default=None)
        for period in periods:
            end = period.end if cut is None else (cut if period.end is None else min(cut, period.end))
            spans.append((period.start, end))
    return [
        f"{p.order_no}: VIP price ({p.discount_fen} fen off) priced "
        f"{p.created_at.astimezone(SHANGHAI):%m-%d %H:%M:%S} outside any paid period"
        for p in purchases
        if p.discount_fen > 0
        and p.kept
        and not any(start <= p.created_at and (end is None or p.created_at < end) for start, end in spans)
    ]
