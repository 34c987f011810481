"""Channel agreements for auto-renew: the sign link, and the channel's sign / terminate notifications.

A late or repeated sign notification is idempotent and never revives a terminated agreement.
"""

from django.conf import settings

from kameng.core import clock
from kameng.core.audit import Source, log_action
from kameng.membership.cancellation import agreement_ended_at_channel
from kameng.membership.lifecycle import lock_agreement, request_unsign
from kameng.membership.models import (
    PERIOD_MONTHS,
    Agreement,
    Cancellation,
    ChargeAttempt,
    ConsentRecord,
    Membership,
)
from kameng.membership.schedule import first_renewal_date
from kameng.membership.services import queue_charge
from kameng.payments.channels.base import AgreementTerms
from kameng.payments.channels.registry import get_channel
from kameng.payments.events import AgreementEnded, AgreementEvent, AgreementSigned, Rejected
from kameng.payments.selectors import notify_url


class UnknownAgreement(Rejected):
    """A verified agreement notification that is not about one of our agreements."""


def sign_url(*, agreement: Agreement, return_path: str) -> str:
    """The channel's link for the member: sign the agreement, and, where the channel takes it in the same step
    (Alipay 支付并签约), pay the first period's order too."""
    membership = agreement.membership
    months = PERIOD_MONTHS[membership.plan.period]
    channel = get_channel(agreement.channel)
    first = {}
    if channel.pays_first_period_at_signing:
        attempt = (
            ChargeAttempt.objects.select_related("order")
            .filter(charge__membership=membership, charge__period_index=0)
            .first()
        )
        if attempt is not None:
            first = {
                "first_order_no": attempt.order.order_no,
                "first_amount_fen": attempt.order.amount_fen,
                "first_subject": attempt.order.subject,
                # The trade ends when the order does, so the sweep's close at expiry is final (docs/channels.md).
                "first_expires_at": attempt.order.expires_at,
            }
    return channel.agreement_sign_url(
        terms=AgreementTerms(
            external_no=agreement.external_no,
            plan_name=membership.plan.name,
            period_months=months,
            single_amount_fen=agreement.single_amount_fen,
            # The first renewal's planned date C, as disclosed and consented (docs/rules.md#renewal-schedule):
            # Alipay's execute_time, WeChat's terms.
            first_charge_date=first_renewal_date(subscribed_at=membership.created_at, period_months=months),
            account_label=membership.user.username,
            user_ref=str(membership.user_id),
            client_ip=_consent_ip(membership),
            **first,
        ),
        notify_url=notify_url(agreement.channel),
        return_url=settings.KAMENG_PUBLIC_URL.rstrip("/") + return_path,
    )


def _consent_ip(membership: Membership) -> str:
    """The address the member chose auto-renew from (WeChat's H5 signing asks for the member's clientip)."""
    consent = ConsentRecord.objects.filter(membership=membership).values_list("ip", flat=True).first()
    return consent or ""


def apply_agreement_event(event: AgreementEvent) -> None:
    """Payments publishes these inside the notification's transaction. Raises UnknownAgreement for numbers we never
    issued (payments then rejects the notification)."""
    agreement = lock_agreement(
        Agreement.objects.filter(channel=event.channel, external_no=event.external_agreement_no)
    )
    if agreement is None:
        raise UnknownAgreement(f"unknown agreement {event.external_agreement_no!r}")
    if agreement.channel_agreement_no and agreement.channel_agreement_no != event.channel_agreement_no:
        raise UnknownAgreement("agreement number does not match the one signed")
    if isinstance(event, AgreementSigned):
        _signed(agreement, event)
    else:
        _terminated_at_channel(agreement, event)


def _signed(agreement: Agreement, event: AgreementSigned) -> None:
    if agreement.status != Agreement.Status.PENDING:
        # Already active (a repeat) or terminated (a late sign never revives it): nothing changes.
        log_action(
            action="agreement.sign_ignored",
            obj=agreement,
            source=Source.CHANNEL,
            data={"status": agreement.status, "notify": event.dedupe_key},
        )
        return
    agreement.status, agreement.signed_at = Agreement.Status.ACTIVE, clock.now()
    agreement.channel_agreement_no = event.channel_agreement_no
    agreement.save(update_fields=["status", "signed_at", "channel_agreement_no"])
    log_action(
        action="agreement.signed",
        obj=agreement,
        source=Source.CHANNEL,
        data={"channel_agreement_no": event.channel_agreement_no},
    )
    membership = agreement.membership
    if (
        membership.status == Membership.Status.PENDING
        and not get_channel(agreement.channel).pays_first_period_at_signing
    ):
        # The first period is charged through the agreement just signed (签约后立即扣首期, WeChat). A channel that
        # took the first payment in the signing step (Alipay 支付并签约) is never charged for period 0: its trade
        # notification pays the order, before or after this one.
        attempt = (
            ChargeAttempt.objects.select_related("order")
            .filter(charge__membership=membership, charge__period_index=0)
            .first()
        )
        if attempt is not None:
            queue_charge(attempt=attempt)
    elif (
        membership.status == Membership.Status.ABANDONED
        and not get_channel(agreement.channel).pays_first_period_at_signing
    ):
        # Signed after the membership was given up: nothing will be charged through it, so it is ended at the
        # channel at once, never left in force there.
        request_unsign(agreement)


def _terminated_at_channel(agreement: Agreement, event: AgreementEnded) -> None:
    """The member switched auto-renew off inside Alipay / WeChat (or our own unsign is confirmed)."""
    agreement_ended_at_channel(
        agreement=agreement, source=Cancellation.Source.CHANNEL, detail=f"notification {event.dedupe_key}"
    )
