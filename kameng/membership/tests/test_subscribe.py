import pytest

from kameng.core.models import AuditLog
from kameng.membership import services
from kameng.membership.error_codes import MembershipErrorCode as E
from kameng.membership.models import ConsentRecord, Membership
from kameng.orders.models import Order
from tests.factories import PlanFactory, UserFactory, join_vip, refusal

pytestmark = pytest.mark.django_db
NO_CONSENT = services.ConsentContext(given=False, ip="127.0.0.1", user_agent="pytest")
CONSENT = services.ConsentContext(given=True, ip="10.1.2.3", user_agent="Mozilla/5.0 test")


def test_paying_the_first_order_starts_a_one_month_period():
    user, plan = UserFactory(), PlanFactory(price_fen=3000)
    membership = join_vip(user, plan)
    assert membership.status == Membership.Status.ACTIVE
    assert membership.auto_renew is False
    assert membership.current_period_end.month != membership.current_period_start.month
    assert membership.next_charge_at is None


def test_auto_renew_without_consent_is_refused_and_changes_nothing():
    user, plan = UserFactory(), PlanFactory()
    with refusal(E.CONSENT_REQUIRED):
        services.subscribe(
            user=user, plan_code=plan.code, channel="alipay", auto_renew=True, consent=NO_CONSENT
        )
    assert not Membership.objects.exists() and not Order.objects.exists()
    assert AuditLog.objects.filter(action="membership.subscribe_refused", actor=user).exists()


def test_consent_is_stored_with_time_ip_agent_terms_and_price():
    user, plan = UserFactory(), PlanFactory(price_fen=3000, terms_version="2026-11")
    made = services.subscribe(
        user=user, plan_code=plan.code, channel="wechat", auto_renew=True, consent=CONSENT
    )
    consent = ConsentRecord.objects.get(membership=made.membership)
    assert (consent.ip, consent.user_agent, consent.terms_version, consent.price_fen) == (
        "10.1.2.3",
        "Mozilla/5.0 test",
        "2026-11",
        3000,
    )
    assert consent.external_agreement_no == made.membership.agreement.external_no
    assert consent.disclosure["next_charge_fen"] == 3000


def test_disclosure_names_price_period_next_charge_reminders_and_every_way_to_cancel():
    user, plan = UserFactory(), PlanFactory(price_fen=3000)
    made = services.subscribe(
        user=user, plan_code=plan.code, channel="alipay", auto_renew=True, consent=CONSENT
    )
    shown = made.disclosure
    assert shown["price_fen"] == 3000 and shown["period"] == "month"
    assert shown["next_charge_at"] and shown["next_charge_fen"] == 3000
    assert shown["reminder_days_before"] == [7, 3]
    assert set(shown["how_to_cancel"]) == {"member_centre", "support_ticket", "channel_settings"}
    text = "\n".join(shown["text"])
    assert "¥30.00" in text and "提醒" in text and "退订" in text


def test_a_second_subscription_while_one_waits_for_payment_is_refused():
    user, plan = UserFactory(), PlanFactory()
    services.subscribe(user=user, plan_code=plan.code, channel="alipay", auto_renew=False, consent=NO_CONSENT)
    with refusal(E.SUBSCRIPTION_PENDING):
        services.subscribe(
            user=user, plan_code=plan.code, channel="alipay", auto_renew=False, consent=NO_CONSENT
        )
    assert Membership.objects.filter(user=user).count() == 1


def test_an_active_member_cannot_subscribe_again():
    user, plan = UserFactory(), PlanFactory()
    join_vip(user, plan)
    with refusal(E.ALREADY_MEMBER):
        services.subscribe(
            user=user, plan_code=plan.code, channel="alipay", auto_renew=False, consent=NO_CONSENT
        )


def test_unknown_plan_is_404():
    with refusal(E.UNKNOWN_PLAN):
        services.subscribe(
            user=UserFactory(), plan_code="nope", channel="alipay", auto_renew=False, consent=NO_CONSENT
        )


def test_lifetime_plan_cannot_auto_renew_and_never_ends():
    user, plan = UserFactory(), PlanFactory(period="lifetime", price_fen=29800)
    with refusal(E.PLAN_DOES_NOT_RENEW):
        services.subscribe(user=user, plan_code=plan.code, channel="alipay", auto_renew=True, consent=CONSENT)
    membership = join_vip(user, plan)
    assert membership.status == Membership.Status.ACTIVE and membership.current_period_end is None


@pytest.mark.parametrize(
    ("joined", "planned"), [((2027, 1, 31), "2027-02-28"), ((2027, 3, 15), "2027-04-15")]
)
def test_the_disclosed_date_is_the_one_the_alipay_agreement_is_signed_with(joined, planned):
    """The one date (docs/rules.md#renewal-schedule): disclosure, consent record and execute_time agree. With
    支付并签约 the agreement's terms travel in alipay.trade.wap.pay's agreement_sign_params.period_rule_params (no
    page.sign request), so the sandbox opens the link as the member's browser would: it checks the request and opens
    the first order's trade with the agreement that paying it signs."""
    import json
    from datetime import datetime
    from urllib.parse import parse_qsl, urlsplit

    from kameng.core import clock
    from kameng.membership.agreements import sign_url
    from kameng.sandbox.services import trade_from_pay_url

    target = datetime(*joined, 11, 0, tzinfo=clock.SHANGHAI)
    clock.advance(seconds=max(0, int((target - clock.now()).total_seconds())))
    made = services.subscribe(
        user=UserFactory(),
        plan_code=PlanFactory().code,
        channel="alipay",
        auto_renew=True,
        consent=services.ConsentContext(given=True, ip="127.0.0.1", user_agent="pytest"),
    )
    assert made.disclosure["next_charge_date"] == planned
    assert ConsentRecord.objects.get(membership=made.membership).disclosure["next_charge_date"] == planned
    link = sign_url(agreement=made.membership.agreement, return_path="/member/")
    params = dict(parse_qsl(urlsplit(link).query, keep_blank_values=True))
    assert params["method"] == "alipay.trade.wap.pay"
    rule = json.loads(params["biz_content"])["agreement_sign_params"]["period_rule_params"]
    assert rule["execute_time"] == planned
    trade = trade_from_pay_url(link)
    assert trade.out_trade_no == made.order.order_no
    assert trade.signs_agreement.next_deduct_date.isoformat() == planned
