"""The global lock order on PostgreSQL, pair by pair: paths that touch the same rows queue instead of deadlocking.

Each test forces the interleaving that used to deadlock. Thread A takes the first lock of its path (the
membership row: every path below starts there now) and holds it; thread B starts the other path and must be seen
waiting on a lock; then A runs its whole path in the same transaction. Under the old orders B already held the
agreement or the order A needed next, so A waited on B while B waited on A, and PostgreSQL killed one after a
second. Now B holds nothing while it waits: A finishes without waiting, commits, and B runs after it. Both must
end with the outcome of "A, then B", and no deadlock may have been logged (the retry would otherwise hide it).
"""

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
from django.db import OperationalError, connection, transaction
from django.test import Client

from kameng.core import clock, locking
from kameng.core.money import yuan_str
from kameng.membership import cancellation, renewals
from kameng.membership.models import Agreement, Cancellation, Charge, ChargeAttempt, Membership
from kameng.payments.models import Payment, Refund
from kameng.protocols import alipay as alipay_protocol
from kameng.sandbox import agreements as sandbox_agreements
from kameng.sandbox import keys
from tests.factories import PlanFactory, UserFactory, api_client, join_vip, post_json, ready_for_renewal

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
WAIT = 10  # seconds any step may take before the test calls it stuck


def _in_thread(fn):
    def run():
        clock.forget_cached_offset()
        try:
            return fn()
        finally:
            connection.close()

    return run


def _sessions_waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def _wait_until_a_session_waits_on_a_lock() -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if _sessions_waiting_on_a_lock():
            return
        time.sleep(0.02)
    raise AssertionError("the second path never waited on a lock")


def interleave(membership: Membership, first, second, caplog) -> tuple:
    """A holds `membership`'s row, B starts `second` and waits, A runs `first` to its end without waiting on B,
    commits, then B finishes. Returns both results."""
    held, go, done, commit = threading.Event(), threading.Event(), threading.Event(), threading.Event()

    def run_first_after_b_waits():
        with transaction.atomic():
            locking.lock_one(Membership.objects.filter(pk=membership.pk))
            held.set()
            go.wait(WAIT)
            result = first()
            done.set()
            commit.wait(WAIT)
            return result

    caplog.set_level(logging.WARNING, logger="kameng.core.locking")
    with ThreadPoolExecutor(max_workers=2) as pool:
        a = pool.submit(_in_thread(run_first_after_b_waits))
        assert held.wait(WAIT)
        b = pool.submit(_in_thread(second))
        _wait_until_a_session_waits_on_a_lock()
        go.set()
        finished_without_waiting_on_b = done.wait(WAIT)
        b_still_waiting = not b.done()
        commit.set()
        results = a.result(timeout=WAIT), b.result(timeout=WAIT)
    assert finished_without_waiting_on_b, "A waited on B: B took a lock out of order"
    assert b_still_waiting, "B did not queue behind A's membership lock"
    assert not [r for r in caplog.records if "deadlock" in r.getMessage()]
    return results


# --- the paths ------------------------------------------------------------------------------------------------------


def _signed(params: dict) -> bytes:
    return urlencode(
        alipay_protocol.sign_notification(params, keys.sandbox_keys()["alipay_private"])
    ).encode()


def _notify(body: bytes) -> bytes:
    response = Client().post(
        "/payments/notify/alipay/", body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    return response.content


def unsign_notification(agreement: Agreement):
    body = _signed(
        {
            "notify_id": f"unsign-{agreement.pk}",
            "notify_type": "dut_user_unsign",
            "notify_time": clock.now().strftime("%Y-%m-%d %H:%M:%S"),
            "app_id": keys.ALIPAY_APP_ID,
            "status": "UNSIGN",
            "agreement_no": agreement.channel_agreement_no,
            "external_agreement_no": agreement.external_no,
            "personal_product_code": "CYCLE_PAY_AUTH_P",
        }
    )
    return lambda: _notify(body)


def payment_notification(order_no: str, amount_fen: int):
    body = _signed(
        {
            "notify_id": f"paid-{order_no}",
            "notify_type": "trade_status_sync",
            "charset": "utf-8",
            "version": "1.0",
            "notify_time": clock.now().strftime("%Y-%m-%d %H:%M:%S"),
            "app_id": keys.ALIPAY_APP_ID,
            "trade_no": f"T-{order_no}",
            "out_trade_no": order_no,
            "trade_status": "TRADE_SUCCESS",
            "total_amount": yuan_str(amount_fen),
        }
    )
    return lambda: _notify(body)


def cancel(membership: Membership, mode: str = "end_of_period"):
    return lambda: cancellation.cancel_membership(user=membership.user, mode=mode).receipt_no


def member() -> Membership:
    return join_vip(UserFactory(), PlanFactory(price_fen=3000), auto_renew=True)


def due_renewal(membership: Membership) -> ChargeAttempt:
    """The renewal sweep has claimed the next period's charge (its order is with the channel)."""
    first_attempt = ready_for_renewal(membership)
    clock.advance(seconds=int((first_attempt - clock.now()).total_seconds()) + 60)
    (work,) = renewals._claim_due(1)
    return ChargeAttempt.objects.select_related("order").get(order__order_no=work.order_no)


def renewal_failure(attempt: ChargeAttempt):
    return lambda: renewals._charge_failed(attempt_id=attempt.pk, message="余额不足")


# --- the pairs ------------------------------------------------------------------------------------------------------


def test_a_cancel_holding_the_membership_and_the_channels_unsign_queue_instead_of_deadlocking(caplog):
    membership = member()
    interleave(membership, cancel(membership), unsign_notification(membership.agreement), caplog)
    receipt = Cancellation.objects.get(membership=membership)
    assert receipt.source == Cancellation.Source.SELF_SERVICE  # the member's cancel came first
    agreement = Agreement.objects.get(pk=membership.agreement.pk)
    assert (
        agreement.status == Agreement.Status.TERMINATED and agreement.termination_source == "merchant_unsign"
    )
    membership.refresh_from_db()
    assert membership.status == Membership.Status.ACTIVE and membership.auto_renew is False


def test_the_channels_unsign_holding_the_membership_and_a_cancel_queue_and_give_one_receipt(caplog):
    membership = member()
    _, receipt_no = interleave(
        membership, unsign_notification(membership.agreement), cancel(membership), caplog
    )
    receipt = Cancellation.objects.get(membership=membership)
    assert receipt.source == Cancellation.Source.CHANNEL and receipt.receipt_no == receipt_no


def test_an_immediate_cancel_and_the_channels_unsign_queue_and_refund_once(caplog):
    membership = member()
    interleave(membership, cancel(membership, "immediate"), unsign_notification(membership.agreement), caplog)
    membership.refresh_from_db()
    assert membership.status == Membership.Status.CANCELLED
    assert Refund.objects.get().amount_fen == 3000
    assert Cancellation.objects.filter(membership=membership).count() == 1


def test_a_cancel_and_the_daily_reconcile_finding_the_agreement_gone_queue_instead_of_deadlocking(caplog):
    membership = member()
    agreement = membership.agreement
    sandbox_agreements.unsign_agreement(agreement_no=agreement.channel_agreement_no, notify=False)

    def reconcile():
        return cancellation.reconcile_agreement(agreement=agreement).channel_state

    _, channel_state = interleave(membership, cancel(membership), reconcile, caplog)
    assert channel_state == "terminated"
    assert Cancellation.objects.get(membership=membership).source == Cancellation.Source.SELF_SERVICE
    assert Agreement.objects.get(pk=agreement.pk).status == Agreement.Status.TERMINATED


def test_the_reconcile_and_a_cancel_queue_and_give_one_receipt(caplog):
    membership = member()
    agreement = membership.agreement
    sandbox_agreements.unsign_agreement(agreement_no=agreement.channel_agreement_no, notify=False)

    def reconcile():
        return cancellation.reconcile_agreement(agreement=agreement).applied

    applied, _ = interleave(membership, reconcile, cancel(membership), caplog)
    assert applied is True
    assert Cancellation.objects.get(membership=membership).source == Cancellation.Source.RECONCILE


def test_a_renewal_failure_and_the_payment_notification_for_the_same_charge_queue_instead_of_deadlocking(
    caplog,
):
    membership = member()
    attempt = due_renewal(membership)
    interleave(
        membership,
        renewal_failure(attempt),
        payment_notification(attempt.order.order_no, attempt.order.amount_fen),
        caplog,
    )
    # The refusal came first (past due), then the money: the period is paid after all, and nothing refunded.
    membership.refresh_from_db()
    assert membership.status == Membership.Status.ACTIVE and membership.period_index == 1
    assert Charge.objects.get(membership=membership, period_index=1).status == Charge.Status.SUCCEEDED
    assert not Refund.objects.exists()


def test_the_payment_notification_and_a_renewal_failure_for_the_same_charge_queue(caplog):
    membership = member()
    attempt = due_renewal(membership)
    paid = payment_notification(attempt.order.order_no, attempt.order.amount_fen)
    interleave(membership, paid, renewal_failure(attempt), caplog)
    membership.refresh_from_db()
    assert membership.status == Membership.Status.ACTIVE and membership.period_index == 1
    assert membership.failed_attempts == 0  # the late refusal changed nothing: the charge had succeeded


def test_a_cancel_and_the_renewal_payment_queue_and_the_money_goes_back(caplog):
    membership = member()
    attempt = due_renewal(membership)
    paid = payment_notification(attempt.order.order_no, attempt.order.amount_fen)
    interleave(membership, cancel(membership), paid, caplog)
    membership.refresh_from_db()
    assert membership.period_index == 0  # cancelled first: the renewal never starts a period
    payment = Payment.objects.get(order=attempt.order)
    assert payment.refunds.get().reason == Refund.Reason.RENEWAL_AFTER_CANCEL


def test_the_renewal_payment_and_a_cancel_queue_and_the_paid_period_stays(caplog):
    membership = member()
    attempt = due_renewal(membership)
    paid = payment_notification(attempt.order.order_no, attempt.order.amount_fen)
    interleave(membership, paid, cancel(membership), caplog)
    membership.refresh_from_db()
    assert membership.period_index == 1 and membership.auto_renew is False
    assert not Refund.objects.exists()


def test_a_cancel_and_a_renewal_failure_queue_and_give_one_receipt(caplog):
    membership = member()
    attempt = due_renewal(membership)
    interleave(membership, cancel(membership), renewal_failure(attempt), caplog)
    assert Cancellation.objects.filter(membership=membership).count() == 1
    assert ChargeAttempt.objects.get(pk=attempt.pk).outcome == "failed"


# --- the safety net -------------------------------------------------------------------------------------------------


def test_a_deadlock_is_logged_and_its_transaction_run_once_more(caplog):
    """Two transactions lock two rows crosswise (deliberately outside the order): PostgreSQL kills one, which
    is logged as a deadlock and run again, and then both have done their work."""
    one, two = member(), member()
    both_hold_one = threading.Barrier(2)
    runs: list[str] = []

    @locking.retried_atomic
    def crosswise(name: str, first: Membership, second: Membership) -> str:
        runs.append(name)
        # The victim's second run takes the survivor's order, so it simply queues behind it.
        order = (first, second) if runs.count(name) == 1 else (second, first)
        Membership.objects.select_for_update().get(pk=order[0].pk)
        if runs.count(name) == 1:
            both_hold_one.wait(WAIT)
        Membership.objects.select_for_update().get(pk=order[1].pk)
        Membership.objects.filter(pk=second.pk).update(failed_attempts=second.failed_attempts + 1)
        return name

    caplog.set_level(logging.WARNING, logger="kameng.core.locking")
    with ThreadPoolExecutor(max_workers=2) as pool:
        a = pool.submit(_in_thread(lambda: crosswise("a", one, two)))
        b = pool.submit(_in_thread(lambda: crosswise("b", two, one)))
        assert {a.result(timeout=WAIT), b.result(timeout=WAIT)} == {"a", "b"}
    assert len(runs) == 3  # one of the two ran twice
    retried = [r for r in caplog.records if "deadlock in" in r.getMessage()]
    assert len(retried) == 1 and "running it once more" in retried[0].getMessage()
    assert sorted(Membership.objects.values_list("failed_attempts", flat=True)) == [1, 1]


def test_a_row_held_past_the_lock_timeout_fails_the_waiter_once_without_a_retry(caplog, monkeypatch):
    monkeypatch.setattr(locking, "LOCK_TIMEOUT_MS", 300)
    membership = member()
    held, release = threading.Event(), threading.Event()
    runs: list[int] = []

    def hold():
        with transaction.atomic():
            Membership.objects.select_for_update().get(pk=membership.pk)
            held.set()
            release.wait(WAIT)

    @locking.retried_atomic
    def waiter():
        runs.append(1)
        locking.lock_one(Membership.objects.filter(pk=membership.pk))

    caplog.set_level(logging.WARNING, logger="kameng.core.locking")
    with ThreadPoolExecutor(max_workers=1) as pool:
        holder = pool.submit(_in_thread(hold))
        assert held.wait(WAIT)
        with pytest.raises(OperationalError):
            waiter()
        release.set()
        holder.result(timeout=WAIT)
    assert runs == [1]
    assert [r.getMessage() for r in caplog.records if "lock timeout" in r.getMessage()]


def test_a_cancel_that_waits_past_the_lock_timeout_is_told_busy_and_changes_nothing(monkeypatch):
    monkeypatch.setattr(locking, "LOCK_TIMEOUT_MS", 300)
    membership = member()
    client = api_client(membership.user)
    held, release = threading.Event(), threading.Event()

    def hold():
        with transaction.atomic():
            Membership.objects.select_for_update().get(pk=membership.pk)
            held.set()
            release.wait(WAIT)

    with ThreadPoolExecutor(max_workers=1) as pool:
        holder = pool.submit(_in_thread(hold))
        assert held.wait(WAIT)
        answer = post_json(
            client, "/api/v1/membership/cancel", {"mode": "immediate"}, **{"Accept-Language": "en"}
        )
        release.set()
        holder.result(timeout=WAIT)
    assert answer.status_code == 503 and answer["Retry-After"] == "1"
    assert answer.json()["error"]["code"] == "database_busy"
    assert "nothing was changed" in answer.json()["error"]["message"]
    membership.refresh_from_db()
    assert membership.status == Membership.Status.ACTIVE and not Cancellation.objects.exists()
