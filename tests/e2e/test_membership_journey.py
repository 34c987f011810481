"""A member's whole journey through the HTTP API and the sandbox gateway, as a script or an app would drive it."""

from urllib.parse import urlsplit

import pytest
from django.test import Client

from kameng.core.roles import Role
from kameng.membership.models import Agreement
from kameng.payments import ledger
from kameng.sandbox.models import SandboxAgreement
from tests.factories import (
    PlanFactory,
    UserFactory,
    api_client,
    complete_at_channel,
    post_json,
    stocked_product,
)

pytestmark = pytest.mark.django_db


def run_due(client: Client) -> None:
    """What Celery beat does every 10 seconds: a few rounds, as each step queues the next (a staff member's hook)."""
    for _ in range(4):
        assert client.post("/api/v1/sandbox/run-due").status_code == 200


def test_join_with_auto_renew_buy_at_vip_price_then_cancel_immediately_and_get_the_refund():
    PlanFactory(code="vip-month", price_fen=3000, discount_percent=10)
    product = stocked_product(price_fen=5000)
    anon = Client()
    staff = api_client(UserFactory(role=Role.OPERATOR))  # the sandbox's clock and sweeps are staff-only
    assert (
        post_json(
            anon,
            "/api/v1/auth/register",
            {"username": "alice", "password": "S3cret-Pass-99", "email": "a@example.com"},
        ).status_code
        == 201
    )
    token = post_json(anon, "/api/v1/auth/token", {"username": "alice", "password": "S3cret-Pass-99"}).json()[
        "token"
    ]
    api = Client(headers={"Authorization": f"Bearer {token}"})

    # Join with auto-renew: the pay link is Alipay's 支付并签约: the member pays the first period and signs at once.
    joined = post_json(
        api,
        "/api/v1/membership/subscribe",
        {"plan_code": "vip-month", "channel": "alipay", "auto_renew": True, "auto_renew_consent": True},
    ).json()
    assert joined["disclosure"]["next_charge_fen"] == 3000
    to_channel = anon.get(urlsplit(joined["pay_url"]).path)
    assert "alipay.trade.wap.pay" in to_channel["Location"]
    complete_at_channel(to_channel["Location"])
    run_due(staff)
    me = api.get("/api/v1/membership").json()
    assert me["status"] == "active" and me["auto_renew"] is True and me["agreement"]["status"] == "active"

    # Buy at the VIP price.
    order = post_json(api, "/api/v1/orders", {"sku": product.sku, "quantity": 1, "channel": "alipay"}).json()
    assert (order["amount_fen"], order["discount_fen"]) == (4500, 500)
    anon.post(f"/sandbox/pay/{order['order_no']}")
    run_due(staff)
    assert api.get(f"/api/v1/orders/{order['order_no']}").json()["status"] == "delivered"

    # Ten days on, cancel immediately: pro rata minus the saving, paid back through the channel.
    post_json(staff, "/api/v1/sandbox/clock", {"advance_seconds": 10 * 86400})
    quote = api.get("/api/v1/membership/refund-quote").json()
    expected = quote["prorated_fen"] - 500
    assert quote["used_days"] == 11 and quote["deducted_fen"] == 500 and quote["refund_fen"] == expected
    receipt = post_json(
        api,
        "/api/v1/membership/cancel",
        {"mode": "immediate", "reason": "not_using", "quote_id": quote["quote_id"]},
    ).json()
    assert receipt["refund_fen"] == expected and receipt["refund_status"] == "pending"
    run_due(staff)

    me = api.get("/api/v1/membership").json()
    assert me["status"] == "cancelled" and me["auto_renew"] is False
    assert me["agreement"]["status"] == "terminated"
    agreement = Agreement.objects.get()
    assert SandboxAgreement.objects.get(agreement_no=agreement.channel_agreement_no).status == "UNSIGN"
    page = Client()
    page.login(username="alice", password="S3cret-Pass-99")
    shown = page.get(receipt["receipt_url"]).content.decode()
    assert receipt["receipt_no"] in shown and "已退款" in shown
    assert ledger.balance(ledger.MEMBERSHIP_REVENUE) == -(3000 - expected)
    assert ledger.balance(ledger.channel_account("alipay")) == 3000 + 4500 - expected
    inbox = api.get("/api/v1/notifications").json()
    assert {"membership.subscribed", "membership.cancelled"} <= {n["kind"] for n in inbox}
