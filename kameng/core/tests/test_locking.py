"""The lock helper's guard: a path that asks for rows against the global order is refused, in any test."""

import pytest
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from kameng.core import locking
from kameng.membership.models import Agreement, Charge, Membership
from kameng.payments.models import Payment
from tests.factories import PlanFactory, UserFactory, join_vip

pytestmark = pytest.mark.django_db


@pytest.fixture
def membership() -> Membership:
    return join_vip(UserFactory(), PlanFactory(), auto_renew=True)


def test_locking_an_agreement_then_its_membership_is_refused(membership):
    with transaction.atomic():
        locking.lock_one(Agreement.objects.filter(membership=membership))
        with pytest.raises(locking.LockOrderViolation, match=r"membership\.Membership locked after"):
            locking.lock_one(Membership.objects.filter(pk=membership.pk))


def test_a_membership_then_its_agreement_then_its_charges_is_the_order(membership):
    with transaction.atomic():
        assert locking.lock_one(Membership.objects.filter(pk=membership.pk)) == membership
        assert locking.lock_one(Agreement.objects.filter(membership=membership)) == membership.agreement
        assert locking.lock(Charge.objects.filter(membership=membership)) == list(membership.charges.all())


def test_a_row_already_held_may_be_asked_for_again_after_later_ones(membership):
    with transaction.atomic():
        locking.lock_one(Membership.objects.filter(pk=membership.pk))
        locking.lock(Payment.objects.all())
        assert locking.lock_one(Membership.objects.filter(pk=membership.pk)) == membership


def test_a_new_row_of_a_model_asked_for_after_a_later_model_is_refused(membership):
    other = join_vip(UserFactory(), PlanFactory())
    with transaction.atomic():
        locking.lock_one(Membership.objects.filter(pk=membership.pk))
        locking.lock(Payment.objects.all())
        with pytest.raises(locking.LockOrderViolation):
            locking.lock_one(Membership.objects.filter(pk=other.pk))


def test_the_order_starts_afresh_with_each_transaction(membership):
    with transaction.atomic():
        locking.lock(Payment.objects.all())
    with transaction.atomic():
        assert locking.lock_one(Membership.objects.filter(pk=membership.pk)) == membership


def test_a_savepoint_rolled_back_takes_its_locks_with_it(membership):
    with transaction.atomic():
        try:
            with transaction.atomic():
                locking.lock(Payment.objects.all())
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        assert locking.lock_one(Membership.objects.filter(pk=membership.pk)) == membership


def test_rows_locked_in_a_savepoint_rolled_back_no_longer_count_after_earlier_locks(membership):
    # PostgreSQL releases what the savepoint locked; the guard must forget it too, or a path that caught an error
    # (a support approval whose cancellation was refused) and carries on would be refused the next correct lock.
    other = join_vip(UserFactory(), PlanFactory())
    with transaction.atomic():
        locking.lock_one(Membership.objects.filter(pk=membership.pk))
        try:
            with transaction.atomic():
                assert locking.lock(Payment.objects.all())
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        assert not locking.holds(Payment.objects.first())
        assert locking.lock_one(Membership.objects.filter(pk=other.pk)) == other


def test_rows_locked_in_a_savepoint_released_still_count(membership):
    other = join_vip(UserFactory(), PlanFactory())
    with transaction.atomic():
        locking.lock_one(Membership.objects.filter(pk=membership.pk))
        with transaction.atomic():
            locking.lock(Payment.objects.all())
        with pytest.raises(locking.LockOrderViolation):
            locking.lock_one(Membership.objects.filter(pk=other.pk))


def test_a_lock_that_found_no_row_holds_nothing(membership):
    with transaction.atomic():
        assert locking.lock(Payment.objects.none()) == []
        assert locking.lock_one(Membership.objects.filter(pk=membership.pk)) == membership


def test_asking_whether_a_row_is_held_takes_no_lock_and_sets_nothing(membership):
    with transaction.atomic():
        before = len(connection.run_on_commit)
        assert not locking.holds(membership)
        assert len(connection.run_on_commit) == before


def test_lock_each_takes_rows_in_the_global_order_whatever_order_they_are_given_in(membership):
    charge = membership.charges.get()
    with transaction.atomic():
        found = locking.lock_each(
            Charge.objects.filter(pk=charge.pk), Membership.objects.filter(pk=membership.pk)
        )
        assert found == [charge, membership]
        assert locking.holds(membership) and locking.holds(charge)


def test_hold_locks_an_instance_not_yet_held_and_refreshes_it(membership):
    Membership.objects.filter(pk=membership.pk).update(failed_attempts=2)
    with transaction.atomic():
        assert not locking.holds(membership)
        locking.hold(membership)
        assert locking.holds(membership) and membership.failed_attempts == 2


def test_a_model_outside_the_order_cannot_be_locked():
    from kameng.accounts.models import User

    UserFactory()
    with transaction.atomic(), pytest.raises(locking.LockOrderViolation, match="no place in LOCK_ORDER"):
        locking.lock(User.objects.all())


@pytest.mark.django_db(transaction=True)
def test_locks_are_only_taken_inside_a_transaction():
    with pytest.raises(TransactionManagementError):
        locking.lock(Payment.objects.all())


@pytest.mark.postgres
def test_on_postgresql_the_first_lock_sets_the_lock_timeout_and_locks_in_primary_key_order(membership):
    join_vip(UserFactory(), PlanFactory())
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        locking.lock(Membership.objects.all())
        with connection.cursor() as cursor:
            cursor.execute("SHOW lock_timeout")
            assert cursor.fetchone()[0] == "5s"  # LOCK_TIMEOUT_MS
    locked = [q["sql"] for q in queries if "FOR UPDATE" in q["sql"]]
    assert len(locked) == 1 and 'ORDER BY "membership_membership"."id" ASC' in locked[0]
