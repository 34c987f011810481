"""A deadlock in an API write sent with an Idempotency-Key is retried, as `@locking.retried_atomic` promises.

With a key, the whole write runs in the key's transaction (kameng/core/idempotency.py), so the service's own
`retried_atomic` is only a savepoint there and cannot retry: PostgreSQL aborts the whole transaction. The key's
transaction is therefore run the same way, and the client sees its order, not `503 database_busy`.
"""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, transaction

from kameng.core import locking
from kameng.membership.models import Membership
from kameng.orders.models import Order
from tests.concurrency.test_lock_order import WAIT, _in_thread, _wait_until_a_session_waits_on_a_lock
from tests.factories import PlanFactory, UserFactory, api_client, join_vip, post_json, stocked_product

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_deadlock_in_an_api_checkout_with_an_idempotency_key_is_retried_and_the_order_made(caplog):
    buyer = UserFactory()
    membership = join_vip(buyer, PlanFactory())  # a VIP price: checkout locks the membership, then the member
    product = stocked_product(keys=5)
    client = api_client(buyer)
    holds_the_member = threading.Event()

    def out_of_order():
        """Takes the member's lock, waits until the checkout (holding the membership row) waits for it, then asks
        for the membership row: a deadlock, deliberately outside the lock order."""
        with transaction.atomic(), connection.cursor() as cursor:
            # Slow to look for deadlocks itself, so the checkout, waiting first, is the one PostgreSQL fails.
            cursor.execute("SET LOCAL deadlock_timeout = '20s'")
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [locking._MEMBER_LOCK_SPACE, buyer.pk])
            holds_the_member.set()
            _wait_until_a_session_waits_on_a_lock()
            table = connection.ops.quote_name(Membership._meta.db_table)
            cursor.execute(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE", [membership.pk])  # noqa: S608

    caplog.set_level(logging.WARNING, logger="kameng.core.locking")
    with ThreadPoolExecutor(max_workers=1) as pool:
        other = pool.submit(_in_thread(out_of_order))
        assert holds_the_member.wait(WAIT)
        answer = post_json(
            client,
            "/api/v1/orders",
            {"sku": product.sku, "quantity": 1, "channel": "alipay"},
            **{"Idempotency-Key": "checkout-1"},
        )
        other.result(timeout=WAIT)

    assert answer.status_code == 201, answer.content
    order = Order.objects.get(user=buyer, kind=Order.Kind.GOODS)
    assert order.order_no == answer.json()["order_no"] and order.discount_fen > 0
    retried = [r.getMessage() for r in caplog.records if "deadlock in idempotent" in r.getMessage()]
    assert len(retried) == 1 and "running it once more" in retried[0]
    assert Membership.objects.get(pk=membership.pk).status == Membership.Status.ACTIVE
