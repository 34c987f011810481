"""Membership writes: subscribe (with consent and disclosure), and the payment that starts or renews a period.

Every function runs in one transaction with an audit row; periods never start without the money for them.
"""

import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from kameng.core import clock, locking
from kameng.core.audit import Source, log_action
from kameng.core.errors import DomainError
from kameng.membership import lifecycle, renewals, selectors
from kameng.membership.error_codes import MembershipErrorCode
from kameng.membership.models import (
    Agreement,
    Charge,
    ChargeAttempt,
    ConsentRecord,
    Membership,
)
from kameng.orders import services as orders
from kameng.orders.models import Order
from kameng.payments.selectors import channel_names

Status = Membership.Status


@dataclass(frozen=True)
class ConsentContext:
    """Where the consent came from; stored with it."""

    given: bool
    ip: str | None
    user_agent: str


@dataclass(frozen=True)
class Subscription:
    membership: Membership
    order: Order
    disclosure: dict


def _external_agreement_no() -> str:
    # ≤ 32 letters and digits, never reused (unique in the database).
    return "KA" + clock.now().strftime("%Y%m%d") + secrets.token_hex(8).upper()


def _abandon_stale(user) -> None:
    """A pending membership whose first payment did not come is abandoned, so the member can choose again."""
    stale = locking.lock_one(Membership.objects.filter(user=user, status=Status.PENDING))
    if stale is None:
        return
    attempt = ChargeAttempt.objects.filter(charge__membership=stale).select_related("order").first()
    waiting = attempt is not None and attempt.order.status == Order.Status.PENDING_PAYMENT
    signing = hasattr(stale, "agreement") and stale.created_at > clock.now() - lifecycle.ABANDON_AFTER
    if (waiting and attempt.order.expires_at > clock.now()) or signing:
        raise DomainError(MembershipErrorCode.SUBSCRIPTION_PENDING)
    lifecycle.abandon(membership=stale)


def subscribe(
    *, user, plan_code: str, channel: str, auto_renew: bool, consent: ConsentContext, source: str = Source.WEB
) -> Subscription:
    """Joins VIP: a pending membership and the order for its first period; with auto-renew, also the consent
    record and the agreement to be signed at the channel. Auto-renew without explicit consent is refused.

    A refusal changes nothing but is audit-logged (outside the rolled-back transaction)."""
    try:
        with transaction.atomic():
            return _subscribe(
                user=user,
                plan_code=plan_code,
                channel=channel,
                auto_renew=auto_renew,
                consent=consent,
                source=source,
            )
    except DomainError as exc:
        log_action(
            action="membership.subscribe_refused",
            actor=user,
            source=source,
            data={
                "plan": plan_code[:32],
                "channel": channel[:16],
                "auto_renew": auto_renew,
                "code": exc.code,
            },
        )
        raise


def _subscribe(*, user, plan_code: str, channel: str, auto_renew: bool, consent: ConsentContext, source: str):
    plan = selectors.get_plan(code=plan_code)
    if channel not in channel_names():
        raise DomainError(MembershipErrorCode.UNKNOWN_CHANNEL, channel=channel)
    if auto_renew and not plan.renews:
        raise DomainError(MembershipErrorCode.PLAN_DOES_NOT_RENEW)
    if auto_renew and not consent.given:
        raise DomainError(MembershipErrorCode.CONSENT_REQUIRED)
    _abandon_stale(user)
    if Membership.objects.filter(user=user, status__in=[Status.ACTIVE, Status.PAST_DUE]).exists():
        raise DomainError(MembershipErrorCode.ALREADY_MEMBER)
    moment = clock.now()
    shown = selectors.disclosure(plan=plan, channel=channel, auto_renew=auto_renew, now=moment)
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                user=user,
                plan=plan,
                channel=channel,
                price_fen=plan.price_fen,
                auto_renew=auto_renew,
                created_at=moment,
            )
    except IntegrityError:
        raise DomainError(MembershipErrorCode.SUBSCRIPTION_PENDING) from None
    order = orders.create_service_order(
        user=user, subject=f"VIP {plan.name}", amount_fen=plan.price_fen, channel=channel, source=source
    )
    charge = Charge.objects.create(
        membership=membership, period_index=0, amount_fen=plan.price_fen, created_at=moment
    )
    ChargeAttempt.objects.create(charge=charge, order=order, created_at=moment)
    if auto_renew:
        agreement = Agreement.objects.create(
            membership=membership,
            channel=channel,
            external_no=_external_agreement_no(),
            single_amount_fen=plan.price_fen,
            created_at=moment,
        )
        ConsentRecord.objects.create(
            membership=membership,
            user=user,
            given_at=moment,
            ip=consent.ip,
            user_agent=consent.user_agent[:512],
            terms_version=plan.terms_version,
            plan_code=plan.code,
            price_fen=plan.price_fen,
            channel=channel,
            external_agreement_no=agreement.external_no,
            disclosure=shown,
        )
    log_action(
        action="membership.subscribed",
        obj=membership,
        actor=user,
        source=source,
        data={"plan": plan.code, "channel": channel, "auto_renew": auto_renew, "order_no": order.order_no},
    )
    return Subscription(membership=membership, order=order, disclosure=shown)


def apply_membership_payment(*, order_no: str, source: str = Source.CHANNEL) -> orders.PaymentOutcome:
    """A verified payment for a membership order; inside the payment's transaction.

    DELIVERED when it paid a period, REFUND when that period was already paid or the membership is over.
    """
    attempt = ChargeAttempt.objects.select_related("charge").get(order__order_no=order_no)
    # Membership, charge, then order: the lock order, as a failed renewal takes them (docs/architecture.md).
    membership, charge = locking.lock_each(
        Membership.objects.select_related("plan").filter(pk=attempt.charge.membership_id),
        Charge.objects.filter(pk=attempt.charge_id),
    )
    order = orders.lock_order(order_no)
    usable = order.status in (Order.Status.PENDING_PAYMENT, Order.Status.EXPIRED)
    if membership.status == Status.ABANDONED and charge.period_index == 0:
        usable = (
            usable
            and not Membership.objects.filter(user=membership.user_id, status__in=Membership.LIVE).exists()
        )
    elif membership.status not in Membership.LIVE:
        usable = False
    elif charge.is_renewal and (not membership.auto_renew or membership.cancellations.exists()):
        usable = False  # a renewal that raced a cancellation: the money goes back, the period does not start
    if not usable or charge.status == Charge.Status.SUCCEEDED:
        log_action(
            action="membership.payment_not_needed", obj=membership, source=source, data={"order_no": order_no}
        )
        return orders.PaymentOutcome.REFUND
    orders.mark_service_delivered(order=order, source=source)
    charge.status, charge.succeeded_at = Charge.Status.SUCCEEDED, clock.now()
    charge.save(update_fields=["status", "succeeded_at"])
    attempt.outcome, attempt.finished_at = ChargeAttempt.Outcome.SUCCEEDED, clock.now()
    attempt.save(update_fields=["outcome", "finished_at"])
    lifecycle.start_period(membership=membership, charge=charge, order_no=order_no, source=source)
    return orders.PaymentOutcome.DELIVERED


def queue_charge(*, attempt: ChargeAttempt) -> None:
    """The first period's charge after signing, inside the charge hours (`renewals.queue_first_charge`)."""
    renewals.queue_first_charge(order_no=attempt.order.order_no)
