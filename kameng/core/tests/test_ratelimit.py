"""The one rate-limit helper (kameng.core.ratelimit) and the member's lock (locking.lock_member)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.checks import run_checks
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError

from kameng.core import clock, locking, ratelimit
from kameng.core.models import RateCounter
from kameng.orders.error_codes import OrderErrorCode
from kameng.orders.models import Order
from kameng.support.models import Ticket
from tests.factories import UserFactory, place_order, stocked_product

pytestmark = pytest.mark.django_db
RATE = ratelimit.Rate(limit=3, seconds=600)


def _hit(subject: str = "user:1", action: str = "test") -> None:
    with transaction.atomic():
        ratelimit.hit(action=action, subject=subject, rate=RATE, code=OrderErrorCode.TOO_MANY_ORDERS)


def test_a_rate_is_written_limit_slash_seconds():
    assert ratelimit.Rate.parse("5/600") == ratelimit.Rate(limit=5, seconds=600)
    for wrong in ("5", "0/600", "5/0", "five/600", "-1/60"):
        with pytest.raises(ValueError):
            ratelimit.Rate.parse(wrong)


def test_past_the_limit_the_refusal_says_when_the_window_ends():
    for _ in range(3):
        _hit()
    with pytest.raises(ratelimit.TooMany) as refused:
        _hit()
    assert refused.value.status == 429 and 1 <= refused.value.retry_after <= 600
    assert refused.value.params["limit"] == 3 and refused.value.params["minutes"] == 10


def test_a_refused_hit_is_not_counted_and_the_next_window_starts_afresh():
    for _ in range(3):
        _hit()
    with pytest.raises(ratelimit.TooMany) as refused:
        _hit()
    assert RateCounter.objects.get().hits == 3  # rolled back with the refusal
    clock.advance(seconds=refused.value.retry_after)
    _hit()


def test_subjects_and_actions_are_counted_apart():
    for _ in range(3):
        _hit("user:1", "a")
    _hit("user:2", "a")
    _hit("user:1", "b")


def test_a_subject_keeps_at_most_two_windows_of_counters():
    for _ in range(5):
        _hit()
        clock.advance(seconds=600)
    assert RateCounter.objects.count() == 2


def test_check_refuses_an_exhausted_window_without_counting():
    check = {"action": "test", "subject": "user:1", "rate": RATE, "code": OrderErrorCode.TOO_MANY_ORDERS}
    ratelimit.check(**check)
    assert not RateCounter.objects.exists()
    for _ in range(3):
        _hit()
    with pytest.raises(ratelimit.TooMany):
        ratelimit.check(**check)


@pytest.mark.django_db(transaction=True)
def test_a_hit_counts_inside_the_actions_transaction_only():
    with pytest.raises(TransactionManagementError):
        ratelimit.hit(action="test", subject="user:1", rate=RATE, code=OrderErrorCode.TOO_MANY_ORDERS)


def test_a_misspelt_rate_setting_is_caught_at_start(settings):
    settings.KAMENG_RATE_ORDERS = "10 per 600"
    assert [e.id for e in run_checks() if e.id == "kameng.E002"] == ["kameng.E002"]


def test_the_member_lock_comes_after_a_ticket_and_before_an_order():
    user = UserFactory()
    order = place_order(user, stocked_product())
    Ticket.objects.create(
        ticket_no="T1", user=user, category="other", reason="x", created_at=clock.now(), due_at=clock.now()
    )
    with transaction.atomic():
        locking.lock(Ticket.objects.all())
        locking.lock_member(user.pk)
        locking.lock_member(user.pk)  # again: held already
        locking.lock(Order.objects.filter(pk=order.pk))
    with transaction.atomic():
        locking.lock(Order.objects.filter(pk=order.pk))
        with pytest.raises(locking.LockOrderViolation, match=r"member locked after orders\.Order"):
            locking.lock_member(user.pk)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_hits_on_a_limit_of_five_let_exactly_five_through():
    start = threading.Event()
    rate = ratelimit.Rate(limit=5, seconds=600)

    def attempt(_):
        start.wait(timeout=10)
        try:
            with transaction.atomic():
                ratelimit.hit(action="race", subject="user:1", rate=rate, code=OrderErrorCode.TOO_MANY_ORDERS)
            return "passed"
        except ratelimit.TooMany:
            return "refused"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        futures = [pool.submit(attempt, n) for n in range(20)]
        start.set()
        results = [f.result() for f in futures]
    assert results.count("passed") == 5 and RateCounter.objects.get().hits == 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_member_lock_makes_a_second_transaction_of_the_same_member_wait():
    holding, released = threading.Event(), threading.Event()
    waited = []

    def first():
        try:
            with transaction.atomic():
                locking.lock_member(42)
                holding.set()
                released.wait(timeout=10)
        finally:
            connection.close()

    def second():
        holding.wait(timeout=10)
        try:
            with transaction.atomic():
                locking.lock_member(42)
                waited.append(released.is_set())
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        done = [pool.submit(first), pool.submit(second)]
        threading.Timer(0.5, released.set).start()
        for future in done:
            future.result()
    assert waited == [True]  # it got the lock only after the first let go
