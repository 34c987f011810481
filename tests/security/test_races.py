"""Races an outsider can start from a browser or a script, through the real request stack on PostgreSQL: many
buyers for the last card key, and a cancel submitted several times at once.

Each request runs in its own thread with its own database connection (tests/concurrency's `at_once`), through the
whole Django stack (middleware, views, services), as gunicorn's threads would run them.
"""

import json
from collections import Counter

import pytest
from django.test import Client

from kameng.accounts import services as accounts
from kameng.inventory.models import CardKey
from kameng.membership.models import Cancellation
from kameng.orders.models import Order
from kameng.payments.models import Refund
from tests.concurrency.test_cancellation_races import at_once
from tests.factories import PlanFactory, UserFactory, api_client, join_vip, pay_in_sandbox, stocked_product

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_20_buyers_racing_for_the_last_key_through_the_api_buy_it_once():
    product = stocked_product(keys=1)
    buyers = iter([api_client(UserFactory()) for _ in range(20)])  # next() hands each thread its own buyer
    body = json.dumps({"sku": product.sku, "quantity": 1, "channel": "alipay"})

    answers = at_once(
        lambda: next(buyers).post("/api/v1/orders", body, content_type="application/json").status_code, 20
    )

    assert Counter(answers) == {201: 1, 409: 19}  # one order, 19 told it is sold out
    order = Order.objects.get(product=product)
    pay_in_sandbox(order)
    assert CardKey.objects.get(product=product).order_id == order.pk
    assert CardKey.objects.filter(product=product, status=CardKey.Status.SOLD).count() == 1


def _signed_in_clients(user, count: int) -> list[Client]:
    """One browser's session (its cookie) in `count` clients: the same member clicking several times."""
    first = Client()
    first.force_login(user)
    clients = [first]
    for _ in range(count - 1):
        clone = Client()
        clone.cookies = first.cookies
        clients.append(clone)
    return clients


def test_a_cancel_submitted_five_times_at_once_on_the_page_gives_one_receipt_and_one_refund():
    member = UserFactory()
    join_vip(member, PlanFactory(price_fen=3000))
    clicks = iter(_signed_in_clients(member, 5))

    answers = at_once(lambda: next(clicks).post("/member/cancel/", {"mode": "immediate"}), 5)

    assert {a.status_code for a in answers} == {302}
    assert len({a["Location"] for a in answers}) == 1  # every click lands on the same receipt
    assert Cancellation.objects.filter(membership__user=member).count() == 1
    assert Refund.objects.get().amount_fen == 3000


def test_a_cancel_sent_five_times_at_once_with_one_idempotency_key_gives_one_receipt_and_one_refund():
    member = UserFactory()
    join_vip(member, PlanFactory(price_fen=3000))
    headers = {
        "Authorization": f"Bearer {accounts.issue_token(user=member)}",
        "Idempotency-Key": "cancel-once",
    }
    retries = iter([Client(headers=headers) for _ in range(5)])  # a script retrying before it got an answer
    body = json.dumps({"mode": "immediate"})

    answers = at_once(
        lambda: next(retries).post("/api/v1/membership/cancel", body, content_type="application/json"), 5
    )

    assert {a.status_code for a in answers} == {200}, [a.content for a in answers]
    receipts = {a.json()["receipt_no"] for a in answers}
    assert len(receipts) == 1
    assert Cancellation.objects.filter(membership__user=member).count() == 1
    assert Refund.objects.get().amount_fen == 3000


def test_one_browser_opening_five_pages_at_once_after_signing_in_gets_five_pages_and_one_session_record():
    """The first requests of a signed-in session record it for the account page (accounts.activity); five at once
    (tabs restored, a double click) must each get their page, and leave one record."""
    from kameng.accounts.models import UserSession

    member = UserFactory()
    tabs = iter(_signed_in_clients(member, 5))

    answers = at_once(lambda: next(tabs).get("/member/").status_code, 5)

    assert answers == [200] * 5
    assert UserSession.objects.filter(user=member).count() == 1
