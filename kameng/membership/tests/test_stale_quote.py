"""A refund quote binds only while nothing it was computed from has changed (docs/rules.md#5-cancellation).

The attack (issue 13, item 2): take a quote inside the 48-hour window (full refund, Q1), buy cards at the VIP
price, then cancel with Q1: the whole fee came back although the receipt's own quote deducted the saving. Savings
used, a new period, a plan's new terms or a new unpaid VIP-priced order since the quote make it stale: 409
`stale_quote` with the new quote, which the page shows before asking again. Time alone never does (within 30
minutes): the member is paid at least what was quoted.
"""

import re
from datetime import timedelta

import pytest
from django.test import Client

from kameng.core import clock
from kameng.membership import cancellation, schedule
from kameng.membership.error_codes import MembershipErrorCode as E
from kameng.membership.models import Cancellation, Membership, Plan
from kameng.payments.models import Refund
from tests.factories import (
    PlanFactory,
    UserFactory,
    api_client,
    join_vip,
    pay_in_sandbox,
    place_order,
    play_for,
    play_until,
    post_json,
    refusal,
    stocked_product,
)

pytestmark = pytest.mark.django_db
YEAR_FEE = 36500
CARD = 1999  # 10 cards at the VIP price (9折) save 2000


def year_member(**plan) -> tuple:
    user = UserFactory()
    fields = {"name": "年卡", "period": "year", "price_fen": YEAR_FEE, "discount_percent": 10, **plan}
    return user, join_vip(user, PlanFactory(**fields))


def buy_at_vip_price(user, quantity: int = 10):
    order = place_order(user, stocked_product(keys=quantity, price_fen=CARD), quantity=quantity)
    pay_in_sandbox(order)
    return order


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def quote_id_on(page: str) -> str:
    return re.search(r'name="quote_id" value="([^"]+)"', page).group(1)


def test_a_full_refund_quote_taken_before_savings_were_used_is_stale_and_answers_the_new_quote():
    user, membership = year_member()
    client = api_client(user)
    q1 = client.get("/api/v1/membership/refund-quote").json()
    assert (q1["rule"], q1["refund_fen"]) == ("full_within_window", YEAR_FEE)
    buy_at_vip_price(user)

    stale = post_json(client, "/api/v1/membership/cancel", {"mode": "immediate", "quote_id": q1["quote_id"]})

    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_quote"
    new = stale.json()["error"]["quote"]
    assert (new["rule"], new["deducted_fen"]) == ("pro_rata", 2000) and new["refund_fen"] < YEAR_FEE
    assert new["quote_id"] and new["quote_id"] != q1["quote_id"]
    membership.refresh_from_db()
    assert membership.status == Membership.Status.ACTIVE and not Refund.objects.filter(
        reason="membership_cancelled"
    )


def test_the_new_quote_from_the_refusal_is_accepted_and_paid_as_quoted():
    user, _ = year_member()
    client = api_client(user)
    q1 = client.get("/api/v1/membership/refund-quote").json()
    buy_at_vip_price(user)
    body = {"mode": "immediate", "quote_id": q1["quote_id"]}
    new = post_json(client, "/api/v1/membership/cancel", body).json()["error"]["quote"]

    done = post_json(client, "/api/v1/membership/cancel", {"mode": "immediate", "quote_id": new["quote_id"]})

    assert done.status_code == 200
    assert done.json()["refund_fen"] == new["refund_fen"] == Cancellation.objects.get().refund_fen
    assert new["refund_fen"] <= YEAR_FEE - 2000


def test_on_the_page_a_stale_quote_shows_the_new_quote_and_asks_again():
    user, _ = year_member()
    client = logged_in(user)
    first = client.get("/member/cancel/").content.decode()
    buy_at_vip_price(user)

    again = client.post(
        "/member/cancel/", {"mode": "immediate", "quote_id": quote_id_on(first), "reason": "not_using"}
    )

    assert again.status_code == 409 and not Cancellation.objects.exists()
    page = again.content.decode()
    assert 'id="stale-quote"' in page and "− ¥20.00" in page  # the saving, deducted in the new quote
    assert quote_id_on(page) != quote_id_on(first)
    assert '<option value="not_using" selected>' in page  # what the member chose is kept
    done = client.post("/member/cancel/", {"mode": "immediate", "quote_id": quote_id_on(page)})
    assert done.status_code == 302
    receipt = Cancellation.objects.get()
    assert receipt.refund_fen == receipt.quote["refund_fen"] < YEAR_FEE


def test_a_renewal_after_the_quote_makes_it_stale():
    user = UserFactory()
    membership = join_vip(user, PlanFactory(price_fen=3000), auto_renew=True)
    play_until(schedule.coming_cycle(membership).first_attempt_at - timedelta(minutes=10))
    _, quote_id = cancellation.refund_quote(user=user)
    play_for(minutes=15)  # the renewal is charged: a new period begins
    assert Membership.objects.get(pk=membership.pk).period_index == 1
    with refusal(E.STALE_QUOTE) as refused:
        cancellation.cancel_membership(user=user, mode="immediate", quote_id=quote_id)
    assert refused.value.quote.period_index == 1 and refused.value.quote.refund_fen == 3000


def test_a_new_price_of_the_plan_after_the_quote_makes_it_stale():
    user, membership = year_member()
    _, quote_id = cancellation.refund_quote(user=user)
    Plan.objects.filter(pk=membership.plan_id).update(price_fen=39800)
    with refusal(E.STALE_QUOTE):
        cancellation.cancel_membership(user=user, mode="immediate", quote_id=quote_id)


def test_a_vip_order_placed_after_the_quote_makes_it_stale_and_the_new_quote_names_it():
    user, _ = year_member()
    _, quote_id = cancellation.refund_quote(user=user)
    order = place_order(user, stocked_product(keys=10, price_fen=CARD), quantity=10)
    with refusal(E.STALE_QUOTE) as refused:
        cancellation.cancel_membership(user=user, mode="immediate", quote_id=quote_id)
    assert refused.value.quote.closes_orders == (order.order_no,)


def test_a_quote_taken_before_the_window_closed_is_still_paid_in_full_after():
    user, _ = year_member()
    clock.advance(seconds=48 * 3600 - 10 * 60)  # ten minutes before the 48-hour window closes
    quote, quote_id = cancellation.refund_quote(user=user)
    assert quote.rule == "full_within_window"
    clock.advance(seconds=20 * 60)
    assert cancellation.refund_quote(user=user)[0].refund_fen < YEAR_FEE  # time alone lowered the policy
    receipt = cancellation.cancel_membership(user=user, mode="immediate", quote_id=quote_id)
    assert receipt.refund_fen == YEAR_FEE


def test_a_quote_older_than_30_minutes_is_stale_even_if_nothing_else_changed():
    user, _ = year_member()
    _, quote_id = cancellation.refund_quote(user=user)
    clock.advance(seconds=31 * 60)
    with refusal(E.STALE_QUOTE) as refused:
        cancellation.cancel_membership(user=user, mode="immediate", quote_id=quote_id)
    assert refused.value.quote.refund_fen == YEAR_FEE and refused.value.quote_id != quote_id


def test_turning_auto_renew_off_after_the_quote_leaves_it_binding():
    user = UserFactory()
    join_vip(user, PlanFactory(price_fen=3000), auto_renew=True)
    _, quote_id = cancellation.refund_quote(user=user)
    cancellation.cancel_membership(user=user, mode="end_of_period")
    assert cancellation.cancel_membership(user=user, mode="immediate", quote_id=quote_id).refund_fen == 3000


def test_the_stale_quote_refusal_is_declared_in_the_openapi_document():
    document = Client().get("/api/v1/openapi.json").json()
    answer = document["paths"]["/api/v1/membership/cancel"]["post"]["responses"]["409"]
    assert "stale_quote" in answer["x-error-codes"]
    schema = answer["content"]["application/json"]["schema"]
    ref = schema["$ref"].rsplit("/", 1)[-1]
    body = document["components"]["schemas"][ref]["properties"]["error"]
    body_schema = document["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
    assert "quote" in body_schema["properties"]
