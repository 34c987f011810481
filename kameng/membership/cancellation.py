"""退订: cancelling a membership by any path, with one receipt and at most one refund, whatever the clicks.

Paths: self-service (page and API), support (an approved ticket calls the same function), and the channel (the
member unsigned inside Alipay / WeChat, told by notification or found by the daily reconcile). Every path ends in
`Cancellation`, the receipt. The local auto_renew flag is switched off first and is what the renewal sweep obeys;
the agreement is then unsigned at the channel through the outbox, retried until the channel confirms.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError
from django.db.models import QuerySet

from kameng.core import clock, locking, outbox, sweeps
from kameng.core.audit import Source, log_action
from kameng.core.errors import DomainError
from kameng.core.http import TransportError
from kameng.core.money import format_yuan
from kameng.membership import lifecycle, quotes, vip_price
from kameng.membership.error_codes import MembershipErrorCode
from kameng.membership.lifecycle import lock_agreement
from kameng.membership.models import PERIOD_MONTHS, Agreement, Cancellation, Charge, Membership, Period
from kameng.membership.refunds import RefundQuote, quote_refund
from kameng.payments import ledger
from kameng.payments import services as payments
from kameng.payments.channels.base import AgreementState
from kameng.payments.channels.errors import ChannelProtocolError
from kameng.payments.channels.registry import get_channel
from kameng.payments.models import Payment, Refund

Mode = Cancellation.Mode
# The quote's signing lives in quotes.py; these names stay importable from here, where they were.
QUOTE_SALT, QUOTE_MAX_AGE = quotes.QUOTE_SALT, quotes.QUOTE_MAX_AGE


def _current_membership(user, *, lock: bool) -> Membership | None:
    query = (
        Membership.objects.filter(user=user)
        .exclude(status__in=[Membership.Status.PENDING, Membership.Status.ABANDONED])
        .select_related("plan", "user")
        .order_by("-created_at", "-id")
    )
    return locking.lock_one(query) if lock else query.first()


def refund_quote(*, user) -> tuple[RefundQuote, str]:
    """The quote for cancelling now, and a signed quote id the cancel may bring back (binding 30 minutes, while
    nothing it was computed from changes: `kameng/membership/quotes.py`)."""
    membership = _current_membership(user, lock=False)
    if membership is None or membership.status not in (Membership.Status.ACTIVE, Membership.Status.PAST_DUE):
        raise DomainError(MembershipErrorCode.NO_MEMBERSHIP)
    quote = quote_refund(membership=membership)
    return quote, quotes.sign_quote(quote=quote, membership=membership)


def cancel_membership(
    *,
    user,
    mode: str,
    source: str = Cancellation.Source.SELF_SERVICE,
    actor=None,
    reason: str = "",
    comment: str = "",
    quote_id: str = "",
    above_policy_fen: int = 0,
) -> Cancellation:
    """Cancels the member's membership in `mode`; a repeat (double click, retry, second tab) returns the receipt
    already given. end_of_period: no further charge, VIP to the period end. immediate: ends now, refund by policy
    (never less than a quote seen in the last 30 minutes that still binds, `quotes.binding_refund`).

    `above_policy_fen`: an amount finance chose deliberately above the policy on a support ticket, against the
    quote `quote_id` (required with it). It is paid only if that quote still binds and the amount is above it and
    at most what the period cost; otherwise the cancel is refused and changes nothing
    (docs/rules.md#6-support-tickets)."""
    if above_policy_fen and (mode != Mode.IMMEDIATE or not quote_id):
        # The support service refuses both with its own message first; reaching here is a caller's bug.
        raise ValueError("a refund above the policy is an immediate cancel against the quote it exceeds")
    if mode not in Mode.values:
        raise DomainError(MembershipErrorCode.BAD_MODE, choices=", ".join(Mode.values))
    if reason and reason not in Cancellation.Reason.values:
        raise DomainError(MembershipErrorCode.BAD_REASON, choices=", ".join(Cancellation.Reason.values))
    comment = (comment or "").strip()[:500]
    try:
        return _cancel(
            user=user,
            mode=mode,
            source=source,
            actor=actor,
            reason=reason,
            comment=comment,
            quote_id=quote_id,
            above_policy_fen=above_policy_fen,
        )
    except IntegrityError:  # the same cancellation raced in: answer with the one that won
        membership = _current_membership(user, lock=False)
        return Cancellation.objects.get(membership=membership, mode=mode)


@locking.retried_atomic
def _cancel(*, user, mode, source, actor, reason, comment, quote_id, above_policy_fen) -> Cancellation:
    membership = _current_membership(user, lock=True)
    if membership is None:
        raise DomainError(MembershipErrorCode.NO_MEMBERSHIP)
    # The agreement before the refund's payment row: the lock order (docs/architecture.md).
    agreement = locking.lock_one(Agreement.objects.filter(membership=membership))
    already = membership.cancellations.filter(mode=mode).first()
    if already is not None:
        return already
    if membership.status not in (Membership.Status.ACTIVE, Membership.Status.PAST_DUE):
        earlier = membership.cancellations.order_by("-received_at").first()
        if earlier is not None:
            return earlier  # e.g. "turn off auto-renew" after an immediate cancel: the membership is already over
        raise DomainError(MembershipErrorCode.MEMBERSHIP_ENDED)
    # The unpaid VIP-priced orders are locked before the cancel takes its moment and its quote: a payment of one
    # that raced this cancel has committed by now (paid before the cancel, its saving in the quote); any other is
    # closed below if money goes back.
    open_orders = vip_price.lock_open_vip_orders(membership) if mode == Mode.IMMEDIATE else []
    now, plan = clock.now(), membership.plan
    quote, refund_fen, refund, closed = None, 0, None, []
    if mode == Mode.END_OF_PERIOD and plan.period == Period.LIFETIME:
        raise DomainError(MembershipErrorCode.NOTHING_TO_TURN_OFF)
    if mode == Mode.IMMEDIATE:
        quote = quote_refund(membership=membership, now=now)
        refund_fen = quote.refund_fen
        if quote_id:
            refund_fen = max(
                refund_fen, quotes.binding_refund(quote_id=quote_id, membership=membership, fresh=quote)
            )
        if above_policy_fen:  # decided against the binding quote, under the same locks as the quote itself
            refund_fen = _above_policy(above_policy_fen, policy_fen=refund_fen, paid_fen=quote.paid_fen)
        refund_fen = min(refund_fen, quote.paid_fen)  # never more than was paid for it
        if refund_fen > 0:
            # Orders before the refund's payment row (the lock order); the period's VIP price goes with its fee.
            closed = vip_price.close_vip_orders(
                orders_to_close=open_orders,
                source=lifecycle.audit_source(source),
                actor=actor or user,
            )
            refund = _refund_current_period(membership, refund_fen)
    return lifecycle.cancel(
        membership=membership,
        agreement=agreement,
        mode=mode,
        source=source,
        at=now,
        actor=actor if actor is not None and actor.pk != user.pk else None,
        audited_actor=actor or user,
        reason=reason,
        comment=comment,
        refund_fen=refund_fen,
        quote=quote.as_dict() if quote else {},
        refund=refund,
        closed_orders=closed,
    )


def _above_policy(amount_fen: int, *, policy_fen: int, paid_fen: int) -> int:
    """Finance's amount, refused unless it really is above the policy (else the choice means nothing and the
    audit would say otherwise) and within what the period cost."""
    if amount_fen <= policy_fen:
        raise DomainError(
            MembershipErrorCode.NOT_ABOVE_POLICY,
            amount=format_yuan(amount_fen),
            policy=format_yuan(policy_fen),
        )
    if amount_fen > paid_fen:
        raise DomainError(MembershipErrorCode.REFUND_ABOVE_PAID, paid=format_yuan(paid_fen))
    return amount_fen


def _refund_current_period(membership: Membership, amount_fen: int):
    charge = Charge.objects.get(
        membership=membership, period_index=membership.period_index, status=Charge.Status.SUCCEEDED
    )
    payment = (
        Payment.objects.select_related("order")
        .filter(order__membership_attempt__charge=charge)
        .order_by("paid_at")
        .first()
    )
    return payments.request_refund(
        payment=payment,
        amount_fen=amount_fen,
        reason=Refund.Reason.MEMBERSHIP_CANCELLED,
        from_account=ledger.MEMBERSHIP_REVENUE,  # the period was earned as revenue; the refund reverses it
    )


def set_auto_renew(*, user, enabled: bool, source: str = Cancellation.Source.SELF_SERVICE) -> bool:
    """关闭自动续费 is the end-of-period cancellation. Switching it back on needs a new agreement signed."""
    if not enabled:
        cancel_membership(user=user, mode=Mode.END_OF_PERIOD, source=source)
        return False
    membership = _current_membership(user, lock=False)
    if membership is not None and membership.auto_renew:
        return True
    raise DomainError(MembershipErrorCode.RESIGN_REQUIRED)


# --- the channel's side ---------------------------------------------------------------------------------------------


def unsign_at_channel(payload: dict) -> None:
    """Outbox handler: asks the channel to end the agreement; raises (and is retried) until it confirms."""
    agreement = Agreement.objects.select_related("membership__plan").get(pk=payload["agreement"])
    if agreement.status == Agreement.Status.TERMINATED:
        return
    done = get_channel(agreement.channel).unsign_agreement(
        channel_agreement_no=agreement.channel_agreement_no,
        external_no=agreement.external_no,
        period_months=PERIOD_MONTHS.get(agreement.membership.plan.period, 1),
    )
    if not done:
        raise outbox.RetryLater(f"agreement {agreement.external_no} not unsigned yet")
    _unsigned(agreement_id=agreement.pk)


@locking.retried_atomic
def _unsigned(*, agreement_id: int) -> None:
    locked = locking.lock_one(Agreement.objects.filter(pk=agreement_id))
    if locked.status != Agreement.Status.TERMINATED:
        locked.status, locked.terminated_at, locked.termination_source = (
            Agreement.Status.TERMINATED,
            clock.now(),
            Agreement.TerminationSource.MERCHANT_UNSIGN,
        )
        locked.save(update_fields=["status", "terminated_at", "termination_source"])
        log_action(action="agreement.unsigned", obj=locked, source=Source.SYSTEM)


def agreement_ended_at_channel(*, agreement: Agreement, source: str, detail: str) -> None:
    """The channel says the agreement is over (member unsigned there, or it expired): same effect as turning
    auto-renew off: no further charge, VIP kept to the period end, a receipt. Inside the caller's transaction,
    with the membership and agreement rows locked, in that order (`lock_agreement`). Repeats change nothing."""
    if agreement.status == Agreement.Status.TERMINATED:
        return
    ours = agreement.status == Agreement.Status.CANCEL_REQUESTED  # we asked for it: the member has a receipt
    agreement.status, agreement.terminated_at = Agreement.Status.TERMINATED, clock.now()
    agreement.termination_source = (
        Agreement.TerminationSource.MERCHANT_UNSIGN
        if ours
        else Agreement.TerminationSource(f"{agreement.channel}_{source}")
    )
    agreement.save(update_fields=["status", "terminated_at", "termination_source"])
    log_action(
        action="agreement.terminated",
        obj=agreement,
        source=Source.CHANNEL if source == Cancellation.Source.CHANNEL else Source.SYSTEM,
        data={"detail": detail, "requested_by_us": ours},
    )
    membership = agreement.membership  # locked before the agreement (lock_agreement)
    if ours or membership.status not in (Membership.Status.ACTIVE, Membership.Status.PAST_DUE):
        return
    if membership.cancellations.exists():
        return
    lifecycle.cancel(
        membership=membership, agreement=agreement, mode=Mode.END_OF_PERIOD, source=source, at=clock.now()
    )


@dataclass(frozen=True)
class AgreementCheck:
    """What the channel said about one agreement, and whether it changed anything here."""

    agreement: Agreement
    channel_state: AgreementState
    # True when this answer ended the agreement here (auto-renew off; a receipt unless we unsigned).
    applied: bool
    error: str = ""  # why the answer is "unknown", when the call itself failed


def reconcile_agreement(*, agreement: Agreement, actor=None) -> AgreementCheck:
    """Asks the channel for one agreement's real state and applies it: an agreement the channel no longer holds
    ends auto-renew here exactly as the channel's unsign notification would (VIP kept to the period end, a
    receipt). Only agreements in force here (or being unsigned by us) are changed; a repeat changes nothing more.
    The channel is asked outside any transaction; the answer is applied in one. With an `actor` (an operator
    asking from the console), the question and the answer are audit-logged whatever they are."""
    agreement = Agreement.objects.select_related("membership__plan").get(pk=agreement.pk)
    error = ""
    try:
        state = get_channel(agreement.channel).query_agreement(
            channel_agreement_no=agreement.channel_agreement_no,
            external_no=agreement.external_no,
            period_months=PERIOD_MONTHS.get(agreement.membership.plan.period, 1),
        )
    except (TransportError, ChannelProtocolError, LookupError) as exc:
        state, error = AgreementState.UNKNOWN, f"{type(exc).__name__}: {exc}"[:200]
    return _apply_check(agreement_id=agreement.pk, state=state, error=error, actor=actor)


@locking.retried_atomic
def _apply_check(*, agreement_id: int, state: AgreementState, error: str, actor) -> AgreementCheck:
    locked = lock_agreement(Agreement.objects.filter(pk=agreement_id))
    if locked is None:  # agreements are never deleted (PROTECT); a wrong id is the caller's bug, said as such
        raise Agreement.DoesNotExist(f"no agreement {agreement_id}")
    applied = state == AgreementState.TERMINATED and locked.status in (
        Agreement.Status.ACTIVE,
        Agreement.Status.CANCEL_REQUESTED,
    )
    if applied:
        agreement_ended_at_channel(
            agreement=locked, source=Cancellation.Source.RECONCILE, detail="query: not in force"
        )
    locked.checked_at = clock.now()
    locked.save(update_fields=["checked_at"])
    if actor is not None:
        log_action(
            action="agreement.queried",
            obj=locked,
            actor=actor,
            source=Source.ADMIN,
            data={"channel_state": state, "applied": applied, "status": locked.status, "error": error},
        )
    return AgreementCheck(agreement=locked, channel_state=state, applied=applied, error=error)


def reconcile_agreements(*, limit: int = 500) -> int:
    """Daily: asks the channel about every active agreement not checked for a day, and applies what it says.
    Catches silent expiries (Alipay sends no notification when an agreement's validity ends)."""
    reconciled = 0
    for agreement in sweeps.lease_due(
        due=_unchecked_agreements, lease=_lease_check, limit=limit, batch=limit
    ):
        reconcile_agreement(agreement=agreement)
        reconciled += 1
    return reconciled


def _unchecked_agreements() -> QuerySet[Agreement]:
    day_ago = clock.now() - timedelta(days=1)
    return (
        Agreement.objects.filter(status=Agreement.Status.ACTIVE)
        .exclude(checked_at__gt=day_ago)
        .order_by("checked_at", "id")
    )


def _lease_check(agreement: Agreement) -> Agreement:
    """Marked checked now, so a second worker does not ask too; reconcile_agreement marks it again when done."""
    Agreement.objects.filter(pk=agreement.pk).update(checked_at=clock.now())
    return agreement
