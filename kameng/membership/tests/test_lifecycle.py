"""The membership state machine, transition by transition: each moves only from the states it starts from, under
the membership's row lock, and a refused one changes nothing."""

from datetime import timedelta

import pytest
from django.db import transaction

from kameng.core import clock, locking
from kameng.core.audit import Source
from kameng.core.models import AuditLog
from kameng.membership import lifecycle, services
from kameng.membership.lifecycle import lock_agreement
from kameng.membership.models import Agreement, Cancellation, Charge, Membership
from kameng.notifications.models import Notification
from tests.factories import PlanFactory, UserFactory, join_vip

pytestmark = pytest.mark.django_db
Status = Membership.Status


def pending() -> Membership:
    made = services.subscribe(
        user=UserFactory(),
        plan_code=PlanFactory().code,
        channel="alipay",
        auto_renew=False,
        consent=services.ConsentContext(given=False, ip=None, user_agent=""),
    )
    return made.membership


def active(**fields) -> Membership:
    membership = join_vip(UserFactory(), PlanFactory(price_fen=3000), auto_renew=True)
    if fields:
        Membership.objects.filter(pk=membership.pk).update(**fields)
        membership.refresh_from_db()
    return membership


def renewal_charge(membership: Membership) -> Charge:
    return Charge.objects.create(
        membership=membership, period_index=1, amount_fen=3000, is_renewal=True, created_at=clock.now()
    )


def refused(transition, membership: Membership, **kwargs) -> None:
    before = Membership.objects.get(pk=membership.pk)
    with pytest.raises(lifecycle.IllegalTransition), transaction.atomic():
        transition(membership=membership, **kwargs)
    after = Membership.objects.get(pk=membership.pk)
    assert (after.status, after.auto_renew, after.ended_at) == (
        before.status,
        before.auto_renew,
        before.ended_at,
    )


def test_a_transition_runs_under_the_memberships_row_lock():
    membership = pending()
    with transaction.atomic():
        lifecycle.abandon(membership=membership)
        assert locking.holds(membership)


def test_abandon_ends_a_pending_membership_and_audits_it():
    membership = pending()
    with transaction.atomic():
        lifecycle.abandon(membership=membership)
    membership.refresh_from_db()
    assert membership.status == Status.ABANDONED and membership.ended_at is not None
    assert AuditLog.objects.filter(action="membership.abandoned", object_id=str(membership.pk)).exists()


def test_abandon_is_refused_for_an_active_membership():
    refused(lifecycle.abandon, active())


def test_start_period_activates_a_pending_membership_with_its_first_period():
    membership = pending()
    charge = membership.charges.get()
    with transaction.atomic():
        lifecycle.start_period(membership=membership, charge=charge, order_no="V1", source=Source.CHANNEL)
    membership.refresh_from_db()
    assert membership.status == Status.ACTIVE and membership.period_index == 0
    assert membership.current_period_end > membership.current_period_start
    assert AuditLog.objects.get(action="membership.activated").data["from"] == Status.PENDING


def test_start_period_renews_a_past_due_membership_from_now():
    membership = active(status=Status.PAST_DUE, failed_attempts=1, past_due_since=clock.now())
    with transaction.atomic():
        lifecycle.start_period(
            membership=membership, charge=renewal_charge(membership), order_no="V2", source=Source.CHANNEL
        )
    membership.refresh_from_db()
    assert (membership.status, membership.period_index, membership.failed_attempts) == (Status.ACTIVE, 1, 0)
    assert membership.anchor_index == 1  # the new period counts from the moment the money came


@pytest.mark.parametrize("status", [Status.EXPIRED, Status.CANCELLED])
def test_start_period_is_refused_for_a_membership_that_has_ended(status):
    membership = active(status=status)
    refused(
        lifecycle.start_period,
        membership,
        charge=renewal_charge(membership),
        order_no="V3",
        source=Source.CHANNEL,
    )


def test_start_period_of_a_renewal_is_refused_for_an_abandoned_membership():
    membership = active(status=Status.ABANDONED)
    refused(
        lifecycle.start_period,
        membership,
        charge=renewal_charge(membership),
        order_no="V4",
        source=Source.CHANNEL,
    )


def test_a_refused_renewal_with_an_attempt_left_keeps_the_membership_active_and_schedules_it():
    membership = active()
    retry_at = membership.current_period_end - timedelta(days=1)
    with transaction.atomic():
        lifecycle.charge_refused(
            membership=membership,
            agreement=membership.agreement,
            charge=renewal_charge(membership),
            retry_at=retry_at,
        )
    membership.refresh_from_db()
    assert membership.status == Status.ACTIVE and membership.auto_renew is True  # no day paid for is taken
    assert membership.failed_attempts == 1 and membership.next_charge_at == retry_at
    told = Notification.objects.get(user=membership.user, kind="membership.charge_failed")
    assert clock.local(retry_at).strftime("%Y-%m-%d %H:%M") in told.body


def test_a_renewal_refused_at_the_last_attempt_ends_auto_renew_to_the_period_end():
    membership = active()
    end = membership.current_period_end
    with transaction.atomic():
        lifecycle.charge_refused(
            membership=membership,
            agreement=membership.agreement,
            charge=renewal_charge(membership),
            retry_at=None,
        )
    membership.refresh_from_db()
    assert membership.status == Status.ACTIVE and membership.auto_renew is False
    assert membership.current_period_end == end and membership.next_charge_at is None
    assert membership.agreement.status == Agreement.Status.CANCEL_REQUESTED  # unsigned: it is not used again
    assert AuditLog.objects.filter(action="membership.renewal_failed", object_id=str(membership.pk)).exists()
    told = Notification.objects.get(user=membership.user, kind="membership.renewal_ended")
    assert clock.local(end).strftime("%Y-%m-%d %H:%M") in told.body and "/member/plans/" in told.body


def test_a_refused_renewal_is_refused_for_a_pending_membership():
    membership = pending()
    refused(
        lifecycle.charge_refused, membership, agreement=None, charge=membership.charges.get(), retry_at=None
    )


def test_end_auto_renew_is_refused_for_a_past_due_membership():
    membership = active(status=Status.PAST_DUE)
    refused(lifecycle.end_auto_renew, membership, agreement=None, why="renewal_failed")


def test_a_membership_left_past_due_by_the_old_rule_expires_at_the_next_expiry_sweep():
    from kameng.membership import expiry

    membership = active(
        status=Status.PAST_DUE, failed_attempts=1, past_due_since=clock.now(), current_period_end=clock.now()
    )
    expiry.expire_due_memberships()
    membership.refresh_from_db()
    assert membership.status == Status.EXPIRED
    assert AuditLog.objects.get(action="membership.expired").data == {
        "from": Status.PAST_DUE,
        "reason": lifecycle.ExpiryReason.RENEWAL_FAILED,
    }


def test_expire_ends_an_active_membership_and_tells_the_member():
    membership = active(auto_renew=False)
    with transaction.atomic():
        lifecycle.expire(membership=membership, reason=lifecycle.ExpiryReason.PERIOD_END)
    membership.refresh_from_db()
    assert membership.status == Status.EXPIRED and membership.ended_at is not None
    assert Notification.objects.filter(user=membership.user, kind="membership.expired").exists()


def test_expire_is_refused_for_a_cancelled_membership():
    refused(lifecycle.expire, active(status=Status.CANCELLED), reason=lifecycle.ExpiryReason.PERIOD_END)


def test_stop_renewing_turns_auto_renew_off_and_keeps_the_period():
    membership = active()
    with transaction.atomic():
        lifecycle.stop_renewing(membership=membership, why="renewal_without_agreement")
    membership.refresh_from_db()
    assert membership.status == Status.ACTIVE and membership.auto_renew is False
    assert membership.next_charge_at is None
    assert AuditLog.objects.filter(action="membership.renewal_without_agreement").exists()


def test_stop_renewing_is_refused_for_an_expired_membership():
    refused(lifecycle.stop_renewing, active(status=Status.EXPIRED), why="renewal_above_cap")


def _cancel(membership: Membership, mode: str) -> Cancellation:
    with transaction.atomic():
        agreement = lock_agreement(
            Agreement.objects.filter(membership=membership)
        )  # membership, then agreement
        return lifecycle.cancel(
            membership=agreement.membership,
            agreement=agreement,
            mode=mode,
            source=Cancellation.Source.SUPPORT,
            at=clock.now(),
        )


def test_cancel_at_the_end_of_the_period_keeps_vip_and_unsigns_the_agreement():
    membership = active()
    receipt = _cancel(membership, Cancellation.Mode.END_OF_PERIOD)
    membership.refresh_from_db()
    assert membership.status == Status.ACTIVE and membership.auto_renew is False
    assert receipt.effective_at == membership.current_period_end
    assert membership.agreement.status == Agreement.Status.CANCEL_REQUESTED
    assert (
        AuditLog.objects.get(action="membership.cancelled.end_of_period").data["receipt_no"]
        == receipt.receipt_no
    )
    assert Notification.objects.filter(user=membership.user, kind="membership.cancelled").count() == 1


def test_cancel_immediately_ends_the_membership_now():
    membership = active()
    receipt = _cancel(membership, Cancellation.Mode.IMMEDIATE)
    membership.refresh_from_db()
    assert membership.status == Status.CANCELLED and membership.ended_at == receipt.received_at


def test_any_cancel_of_a_past_due_membership_ends_it_now():
    membership = active(status=Status.PAST_DUE, past_due_since=clock.now())
    receipt = _cancel(membership, Cancellation.Mode.END_OF_PERIOD)
    membership.refresh_from_db()
    assert membership.status == Status.CANCELLED and receipt.effective_at == receipt.received_at


def test_cancel_is_refused_for_an_expired_membership():
    membership = active(status=Status.EXPIRED)
    refused(
        lifecycle.cancel,
        membership,
        agreement=None,
        mode=Cancellation.Mode.END_OF_PERIOD,
        source=Cancellation.Source.SUPPORT,
        at=clock.now(),
    )
    assert not Cancellation.objects.exists()
