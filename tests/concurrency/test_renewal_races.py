"""Renewal sweeps on PostgreSQL: several workers at once charge each due membership exactly once."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.db.models import Count

from kameng.core import clock
from kameng.membership import renewals
from kameng.membership.models import Charge, Membership
from kameng.payments.models import Payment
from kameng.sandbox.services import deliver_due_notifications
from tests.factories import PlanFactory, UserFactory, join_vip, ready_for_renewal

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_workers_running_the_renewal_sweep_at_once_charge_each_membership_once():
    plan = PlanFactory()
    members = [join_vip(UserFactory(), plan, auto_renew=True) for _ in range(20)]
    # Reminded 7 days before C and announced on C-4, as the sweeps would have done; then the first attempt is due.
    first_attempt = max(ready_for_renewal(m) for m in members)
    clock.advance(seconds=int((first_attempt - clock.now()).total_seconds()) + 60)
    start = threading.Event()

    def sweep():
        try:
            start.wait(timeout=10)
            return renewals.renew_due_memberships()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(sweep) for _ in range(3)]
        start.set()
        attempted = sum(f.result() for f in futures)
    deliver_due_notifications()
    assert attempted == 20
    renewals_paid = Payment.objects.filter(order__membership_attempt__charge__period_index=1)
    assert renewals_paid.count() == 20
    assert (
        not renewals_paid.values("order__membership_attempt__charge").annotate(n=Count("id")).filter(n__gt=1)
    )
    assert Charge.objects.filter(period_index=1, status="succeeded").count() == 20
    assert set(Membership.objects.values_list("period_index", flat=True)) == {1}


def test_ten_concurrent_subscriptions_of_one_member_make_one_membership():
    from kameng.core.errors import DomainError
    from kameng.membership import services

    user, plan = UserFactory(), PlanFactory()
    start = threading.Event()

    def subscribe():
        try:
            start.wait(timeout=10)
            services.subscribe(
                user=user,
                plan_code=plan.code,
                channel="alipay",
                auto_renew=False,
                consent=services.ConsentContext(given=False, ip=None, user_agent=""),
            )
            return "ok"
        except DomainError as exc:
            return exc.code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        futures = [pool.submit(subscribe) for _ in range(10)]
        start.set()
        outcomes = sorted(f.result() for f in futures)
    assert outcomes.count("ok") == 1
    assert set(outcomes) == {"ok", "subscription_pending"}
    assert Membership.objects.filter(user=user).count() == 1
