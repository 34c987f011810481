"""Races on PostgreSQL with real threads and separate connections: docs/rules.md's promises under load."""

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client

from kameng.core import clock
from kameng.core.errors import DomainError
from kameng.core.money import yuan_str
from kameng.inventory.models import CardKey
from kameng.orders import services as orders
from kameng.orders.models import Order
from kameng.payments.models import NotificationLog, Payment
from kameng.protocols import alipay as alipay_protocol
from kameng.sandbox import keys
from tests.factories import UserFactory, stocked_product

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _in_thread(fn):
    def run(*args):
        try:
            return fn(*args)
        finally:
            connection.close()

    return run


def test_200_buyers_racing_for_50_keys_buy_exactly_50_each_key_once():
    product = stocked_product(keys=50)
    buyers = [UserFactory() for _ in range(200)]
    start = threading.Event()

    @_in_thread
    def buy(buyer):
        start.wait(timeout=10)
        try:
            return orders.create_order(user=buyer, sku=product.sku, quantity=1, channel="alipay").order_no
        except DomainError as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=32) as pool:
        futures = [pool.submit(buy, buyer) for buyer in buyers]
        start.set()
        results = [f.result() for f in futures]
    outcomes = Counter("ordered" if r.startswith("K") else r for r in results)
    assert outcomes == {"ordered": 50, "out_of_stock": 150}
    reserved = CardKey.objects.filter(product=product, status=CardKey.Status.RESERVED)
    assert reserved.count() == 50
    assert reserved.values("order").distinct().count() == 50
    assert Order.objects.count() == 50


def test_the_same_notification_delivered_ten_times_at_once_delivers_once():
    product = stocked_product(keys=3)
    order = orders.create_order(user=UserFactory(), sku=product.sku, quantity=1, channel="alipay")
    params = alipay_protocol.sign_notification(
        {
            "notify_id": "N-RACE",
            "notify_type": "trade_status_sync",
            "charset": "utf-8",
            "version": "1.0",
            "notify_time": clock.now().strftime("%Y-%m-%d %H:%M:%S"),
            "app_id": keys.ALIPAY_APP_ID,
            "trade_no": "T-RACE",
            "out_trade_no": order.order_no,
            "trade_status": "TRADE_SUCCESS",
            "total_amount": yuan_str(order.amount_fen),
        },
        keys.sandbox_keys()["alipay_private"],
    )
    body = urlencode(params)
    start = threading.Barrier(10)

    @_in_thread
    def deliver(_):
        start.wait(timeout=10)
        response = Client().post(
            "/payments/notify/alipay/", body, content_type="application/x-www-form-urlencoded"
        )
        return response.status_code, response.content

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(deliver, range(10)))
    assert answers == [(200, b"success")] * 10
    assert Payment.objects.count() == 1
    assert NotificationLog.objects.filter(accepted=True).count() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
    assert CardKey.objects.filter(status=CardKey.Status.SOLD).count() == 1


def test_two_sweepers_expiring_at_once_release_each_order_once():
    product = stocked_product(keys=40)
    for _ in range(40):
        orders.create_order(user=UserFactory(), sku=product.sku, quantity=1, channel="alipay")
    clock.advance(seconds=16 * 60)

    @_in_thread
    def sweep(_):
        clock.forget_cached_offset()
        return orders.expire_due_orders()

    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = list(pool.map(sweep, range(2)))
    assert sum(counts) == 40
    assert CardKey.objects.filter(status=CardKey.Status.AVAILABLE, order=None).count() == 40


def _wait_until_a_session_waits_on_a_lock() -> None:
    for _ in range(200):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.05)
    raise AssertionError("no session ever waited on a lock")


def test_a_charge_answer_and_its_notification_recorded_at_the_same_moment_count_once():
    """Both see no payment yet; the unique index makes the second wait, then it stands aside instead of failing."""
    from django.db import transaction

    from kameng.payments import services as payments

    order = orders.create_order(
        user=UserFactory(), sku=stocked_product(keys=1).sku, quantity=1, channel="alipay"
    )
    first_inserted, commit_first = threading.Event(), threading.Event()

    def record(hold: bool) -> None:
        with transaction.atomic():
            payments.record_payment(
                channel="alipay",
                out_trade_no=order.order_no,
                channel_trade_no="T-SAME",
                amount_fen=order.amount_fen,
            )
            if hold:
                first_inserted.set()
                commit_first.wait(10)

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(_in_thread(record), True)
        assert first_inserted.wait(10)
        second = pool.submit(_in_thread(record), False)
        _wait_until_a_session_waits_on_a_lock()  # the second insert, on the first's index entry
        commit_first.set()
        first.result(timeout=20)
        second.result(timeout=20)  # no IntegrityError
    assert Payment.objects.filter(channel_trade_no="T-SAME").count() == 1
