"""Double-entry ledger. Debits are positive, credits negative; every entry sums to zero, so the ledger does."""

from django.db.models import Sum

from kameng.core import clock
from kameng.payments.models import LedgerEntry, LedgerLine

PREPAYMENTS = "liability:customer_prepayments"  # paid, not yet delivered
REFUNDS_PAYABLE = "liability:refunds_payable"  # owed back to a buyer, not yet confirmed by the channel
SALES = "revenue:sales"
MEMBERSHIP_REVENUE = "revenue:membership"


def channel_account(channel: str) -> str:
    return f"asset:channel:{channel}"


def post(*, kind: str, reference: str, lines: list[tuple[str, int]]) -> LedgerEntry:
    if not lines or sum(amount for _, amount in lines) != 0:
        raise ValueError(f"unbalanced ledger entry {kind} {reference}: {lines}")
    entry = LedgerEntry.objects.create(at=clock.now(), kind=kind, reference=reference)
    LedgerLine.objects.bulk_create(LedgerLine(entry=entry, account=a, amount_fen=f) for a, f in lines)
    return entry


def balance(account: str) -> int:
    return LedgerLine.objects.filter(account=account).aggregate(total=Sum("amount_fen"))["total"] or 0


def total() -> int:
    """Zero, always."""
    return LedgerLine.objects.aggregate(total=Sum("amount_fen"))["total"] or 0
