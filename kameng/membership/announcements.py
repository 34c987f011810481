"""The renewal's first step, the notice: on C-4 at the member's charge time the channel is told the charge is
coming and for how much (WeChat's 预扣费通知; Alipay has none and answers at once). Claimed by the renewal sweep
(renewals.py), sent outside any transaction, recorded once as the charge's announced_at; the first attempt is
then scheduled (docs/rules.md#renewal-schedule)."""

import logging

from kameng.core import clock, locking
from kameng.core.audit import Source, log_action
from kameng.core.http import TransportError
from kameng.membership import reminders, schedule
from kameng.membership.models import Agreement, Charge, Membership
from kameng.payments.channels.errors import ChannelProtocolError
from kameng.payments.channels.registry import get_channel

log = logging.getLogger(__name__)
Status = Membership.Status


def announce_charge(*, charge_id: int) -> bool:
    """Tells the channel the cycle's charge is coming (WeChat 预扣费通知, the price as the estimated amount);
    records it once answered. False: not in place (the lease runs out and the next sweep tries again, while a
    notice still leaves a chargeable day)."""
    charge = Charge.objects.select_related("membership__agreement").get(pk=charge_id)
    membership = charge.membership
    agreement = getattr(membership, "agreement", None)
    wanted = (
        charge.status == Charge.Status.PENDING
        and charge.announced_at is None
        and agreement is not None
        and agreement.status == Agreement.Status.ACTIVE
        and membership.status == Status.ACTIVE
        and membership.auto_renew
    )
    if not wanted:
        return False
    try:
        in_place = get_channel(membership.channel).announce_charge(
            channel_agreement_no=agreement.channel_agreement_no, amount_fen=charge.amount_fen
        )
    except (TransportError, ChannelProtocolError) as exc:
        log.warning("notice for charge %s not answered: %s", charge_id, exc)
        return False
    if in_place:
        _announced(charge_id=charge_id)
    return in_place


@locking.retried_atomic
def _announced(*, charge_id: int) -> None:
    charge = Charge.objects.get(pk=charge_id)
    membership, charge = locking.lock_each(
        Membership.objects.select_related("plan", "user").filter(pk=charge.membership_id),
        Charge.objects.filter(pk=charge_id),
    )
    if charge.announced_at is not None:
        return
    now = clock.now()
    charge.announced_at = now
    charge.save(update_fields=["announced_at"])
    coming = schedule.coming_cycle(membership)
    if coming is not None and membership.period_index + 1 == charge.period_index:
        first = coming.next_charge_moment(
            now,
            announced_on=clock.local(now).date(),
            tried_on=set(),
            not_before=reminders.earliest_attempt(membership, charge.period_index),
        )
        membership.next_charge_at = first or now  # None: the next claim finds the window gone and gives up
        membership.save(update_fields=["next_charge_at"])
    log_action(
        action="membership.charge_announced",
        obj=membership,
        source=Source.SYSTEM,
        data={"cycle": charge.period_index, "amount_fen": charge.amount_fen, "announced_at": clock.iso(now)},
    )
