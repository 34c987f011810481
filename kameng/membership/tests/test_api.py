from datetime import date, timedelta

import pytest
from django.test import Client

from kameng.membership.models import ConsentRecord, Membership
from tests.factories import PlanFactory, UserFactory, api_client, join_vip, post_json

pytestmark = pytest.mark.django_db


def test_plans_are_listed_with_perks_and_refund_policy():
    PlanFactory(code="vip-month", price_fen=1500, discount_percent=5)
    answer = Client().get("/api/v1/membership/plans").json()
    assert answer[0]["code"] == "vip-month" and answer[0]["price_fen"] == 1500
    assert set(answer[0]["perks"]) == {"vip_price", "priority_fulfilment", "priority_support"}
    assert "48" in answer[0]["refund_policy"]


def test_subscribe_with_auto_renew_needs_explicit_consent():
    user, plan = UserFactory(), PlanFactory()
    client = api_client(user)
    refused = post_json(
        client,
        "/api/v1/membership/subscribe",
        {"plan_code": plan.code, "channel": "alipay", "auto_renew": True},
    )
    assert refused.status_code == 400, refused.content
    assert refused.json()["error"]["code"] == "consent_required"
    assert not Membership.objects.exists()


def test_subscribe_answers_order_pay_url_and_disclosure_and_stores_consent():
    user, plan = UserFactory(), PlanFactory(price_fen=3000)
    answer = post_json(
        api_client(user),
        "/api/v1/membership/subscribe",
        {"plan_code": plan.code, "channel": "wechat", "auto_renew": True, "auto_renew_consent": True},
        HTTP_USER_AGENT="kameng-test/1.0",
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["amount_fen"] == 3000 and body["order_no"].startswith("V")
    assert body["pay_url"].endswith(f"/orders/{body['order_no']}/pay/")
    assert body["disclosure"]["next_charge_fen"] == 3000 and body["disclosure"]["auto_renew"] is True
    assert ConsentRecord.objects.get(user=user).channel == "wechat"


def test_unknown_plan_and_malformed_body_are_4xx():
    client = api_client(UserFactory())
    assert (
        post_json(client, "/api/v1/membership/subscribe", {"plan_code": "x", "channel": "alipay"}).status_code
        == 404
    )
    assert post_json(client, "/api/v1/membership/subscribe", b"{nope").status_code == 400
    assert post_json(client, "/api/v1/membership/subscribe", {"plan_code": 1}).status_code == 422


def test_membership_answer_for_a_member_with_auto_renew():
    user = UserFactory()
    join_vip(user, PlanFactory(code="m", price_fen=3000), channel="alipay", auto_renew=True)
    body = api_client(user).get("/api/v1/membership").json()
    assert body["status"] == "active" and body["plan_code"] == "m" and body["auto_renew"] is True
    # The one date: the planned date C (the period end's date here), its window C-2 07:00 to C 22:00.
    assert body["next_charge_date"] == body["current_period_end"][:10] and body["next_charge_fen"] == 3000
    assert body["next_charge_at"] == body["next_charge_date"] + "T22:00:00+08:00"
    opens = date.fromisoformat(body["next_charge_date"]) - timedelta(days=2)
    assert body["charge_window_opens"] == f"{opens.isoformat()}T07:00:00+08:00"
    assert body["agreement"]["channel"] == "alipay" and body["agreement"]["status"] == "active"
    assert body["current_period_start"].endswith("+08:00")


def test_membership_answer_for_a_non_member():
    body = api_client(UserFactory()).get("/api/v1/membership").json()
    assert body["status"] == "none" and body["agreement"] is None


def test_member_centre_page_shows_period_savings_and_the_cancel_entry():
    user = UserFactory()
    join_vip(user, PlanFactory(name="月卡", price_fen=3000))
    client = Client()
    client.force_login(user)
    page = client.get("/member/").content.decode()
    assert "月卡" in page and "本期已节省 ¥0.00" in page and "低于会费 ¥30.00" in page
    assert 'id="cancel-entry"' in page and "退订会员" in page


def test_plan_page_has_an_unticked_auto_renew_box_with_the_terms_beside_it():
    PlanFactory(code="vip-month", price_fen=1500)
    user = UserFactory()
    client = Client()
    client.force_login(user)
    page = client.get("/member/plans/").content.decode()
    box = page[page.index('name="auto_renew"') - 40 : page.index('name="auto_renew"') + 60]
    assert 'type="checkbox"' in box and "checked" not in box
    consent = page[page.index("data-consent") : page.index("</div>", page.index("data-consent"))]
    for fact in ("¥15.00", "计划扣款日", "07:00–22:00", "提醒", "会员中心", "工单", "自动续费"):
        assert fact in consent
