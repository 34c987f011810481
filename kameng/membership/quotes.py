"""The refund quote as a promise: its signed id, and when a cancel may still hold the shop to it.

A quote binds while nothing it was computed from has changed (docs/rules.md#5-cancellation): the period and its
charge, the plan's terms, the member's VIP savings, and the unpaid VIP-priced orders the cancel would close. Those
inputs are summed up in the quote's fingerprint (`refunds.quote_refund`), which the signed quote id carries. A
cancel that brings a quote id back within 30 minutes, its fingerprint still matching, is paid the larger of that
quote and the policy now: time passing in between (a new day started, the 48-hour window closed) never costs the
member. A changed input, another period, or an older quote is refused with `409 stale_quote` carrying the new
quote and its id, so the member can be shown it and asked again.
"""

from datetime import timedelta

from django.core import signing

from kameng.core import clock
from kameng.core.errors import DomainError
from kameng.membership.error_codes import MembershipErrorCode
from kameng.membership.models import Membership
from kameng.membership.refunds import RefundQuote

QUOTE_SALT = "kameng.membership.refund-quote"
QUOTE_MAX_AGE = timedelta(minutes=30)


def sign_quote(*, quote: RefundQuote, membership: Membership) -> str:
    """The quote id: who, which period, the refund promised, when, and the fingerprint of the inputs."""
    # The age is measured on our clock (the sandbox test clock moves it), not the signer's wall-clock timestamp.
    return signing.dumps(
        {
            "m": membership.pk,
            "p": quote.period_index,
            "r": quote.refund_fen,
            "t": int(quote.quoted_at.timestamp()),
            "f": quote.fingerprint,
        },
        salt=QUOTE_SALT,
        compress=True,
    )


def quote_answer(*, quote: RefundQuote, quote_id: str) -> dict:
    """The quote as the API answers it (refund-quote, and inside a stale_quote refusal)."""
    data = quote.as_dict()
    data.pop("fingerprint")  # carried, signed, inside quote_id
    return {**data, "quote_id": quote_id}


class StaleQuote(DomainError):
    """409 stale_quote, carrying the new quote and its id: the API puts them in the error body, the page shows
    them and asks again."""

    # Why it no longer binds, as far as the signed quote id lets us tell (its inputs are kept only as a digest).
    EXPIRED = "expired"  # older than QUOTE_MAX_AGE, its inputs unchanged
    NEW_PERIOD = "new_period"  # a renewal or a new period since
    SAVINGS_USED = (
        "savings_used"  # a full-refund quote, and since then a VIP saving ended the 48-hour full refund
    )
    CHANGED = (
        "changed"  # some input changed: savings, unpaid VIP orders, the plan's terms; which one is unknown
    )

    def __init__(
        self, *, quote: RefundQuote, quote_id: str, promised_fen: int | None = None, cause: str = CHANGED
    ):
        super().__init__(MembershipErrorCode.STALE_QUOTE)
        self.quote, self.quote_id = quote, quote_id
        # The refund the member was shown (None when the stale id is not one of this member's): the page says
        # "from ¥old to ¥new" rather than only that the quote changed.
        self.promised_fen, self.cause = promised_fen, cause

    def envelope(self, **extra) -> dict:
        return super().envelope(quote=quote_answer(quote=self.quote, quote_id=self.quote_id), **extra)


def binding_refund(*, quote_id: str, membership: Membership, fresh: RefundQuote) -> int:
    """The refund the quote the member saw promises, checked against `fresh`, the quote computed now under the
    cancel's locks. Raises BAD_QUOTE for an id we did not sign, StaleQuote (with `fresh`) for one that no longer
    binds."""
    try:
        data = signing.loads(quote_id, salt=QUOTE_SALT)
    except signing.BadSignature:
        raise DomainError(MembershipErrorCode.BAD_QUOTE) from None
    too_old = clock.now().timestamp() - int(data.get("t", 0)) > QUOTE_MAX_AGE.total_seconds()
    if data.get("m") != membership.pk:
        cause, promised = StaleQuote.CHANGED, None
    elif data.get("p") != membership.period_index:
        cause, promised = StaleQuote.NEW_PERIOD, int(data.get("r", 0))
    elif data.get("f") != fresh.fingerprint:  # a quote id from before fingerprints has none: stale
        cause, promised = _what_changed(int(data.get("r", 0)), fresh), int(data.get("r", 0))
    elif too_old:
        cause, promised = StaleQuote.EXPIRED, int(data.get("r", 0))
    else:
        return int(data.get("r", 0))
    raise StaleQuote(
        quote=fresh,
        quote_id=sign_quote(quote=fresh, membership=membership),
        promised_fen=promised,
        cause=cause,
    )


def _what_changed(promised_fen: int, fresh: RefundQuote) -> str:
    """The one cause the digest still lets us name: the member was promised the whole fee, and inside the 48-hour
    window only a saving used since the charge takes the full refund away (refunds.quote_refund)."""
    in_window = fresh.window_ends_at is not None and fresh.quoted_at <= fresh.window_ends_at
    if (
        in_window
        and promised_fen == fresh.paid_fen
        and fresh.rule != "full_within_window"
        and fresh.deducted_fen
    ):
        return StaleQuote.SAVINGS_USED
    return StaleQuote.CHANGED
