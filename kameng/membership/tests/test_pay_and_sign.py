"""Alipay 支付并签约: the member pays the first period and signs the renewal schedule in one step.

The trade notification pays the first order (and starts the membership); dut_user_sign makes the agreement
active; they may arrive in either order, and the agreement is never charged for period 0. The notifications are
built and signed with kameng.protocols.alipay and the sandbox gateway's Alipay key, as the sandbox sends them.
"""

import json
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.test import Client

from kameng.core import clock
from kameng.core.models import OutboxMessage
from kameng.core.money import yuan_str
from kameng.membership import services
from kameng.membership.models import Agreement, Charge, ChargeAttempt, Membership
from kameng.membership.renewals import CHARGE_TOPIC
from kameng.membership.schedule import first_renewal_date
from kameng.payments.channels import alipay as alipay_adapter
from kameng.payments.models import Payment
from kameng.payments.selectors import pay_redirect_url
from kameng.protocols import alipay as alipay_protocol
from kameng.sandbox import keys
from tests.factories import PlanFactory, UserFactory, join_vip

pytestmark = pytest.mark.django_db


def subscribe(plan=None):
    plan = plan or PlanFactory(price_fen=3000)
    made = services.subscribe(
        user=UserFactory(),
        plan_code=plan.code,
        channel="alipay",
        auto_renew=True,
        consent=services.ConsentContext(given=True, ip="127.0.0.1", user_agent="pytest"),
    )
    return made


def link_biz(made) -> dict:
    url = pay_redirect_url(order=made.order, client_ip="127.0.0.1")
    params = dict(parse_qsl(urlsplit(url).query))
    assert params["method"] == "alipay.trade.wap.pay"
    return json.loads(params["biz_content"])


def notify(**params: str) -> bytes:
    base = {
        "notify_time": clock.now().strftime("%Y-%m-%d %H:%M:%S"),
        "charset": "utf-8",
        "version": "1.0",
        "app_id": keys.ALIPAY_APP_ID,
        "auth_app_id": keys.ALIPAY_APP_ID,
    }
    signed = alipay_protocol.sign_notification(base | params, keys.sandbox_keys()["alipay_private"])
    answer = Client().post(
        "/payments/notify/alipay/", urlencode(signed), content_type="application/x-www-form-urlencoded"
    )
    assert answer.content == b"success", answer.content


def trade_paid(made) -> None:
    notify(
        notify_id=f"trade-{made.order.order_no}",
        notify_type="trade_status_sync",
        out_trade_no=made.order.order_no,
        trade_no="2026" + made.order.order_no[-16:].rjust(16, "0"),
        trade_status="TRADE_SUCCESS",
        total_amount=yuan_str(made.order.amount_fen),
        subject=made.order.subject,
    )


def signed(made) -> None:
    agreement = Agreement.objects.get(membership=made.membership)
    notify(
        notify_id=f"sign-{agreement.external_no}",
        notify_type="dut_user_sign",
        agreement_no="20261208000000000001",
        external_agreement_no=agreement.external_no,
        personal_product_code="CYCLE_PAY_AUTH_P",
        sign_scene="INDUSTRY|DIGITAL_MEDIA",
        status="NORMAL",
        unsign_time="",  # Alipay sends it empty on a signing: it is part of the signed text
    )


@pytest.fixture
def no_agreement_charge(monkeypatch):
    """Any alipay.trade.pay from the shop fails the test: period 0 is never charged through the agreement."""
    real = alipay_adapter.post

    def guarded(url, *, body, **kwargs):
        assert b"alipay.trade.pay" not in body, "the first period was charged through the agreement"
        return real(url, body=body, **kwargs)

    monkeypatch.setattr(alipay_adapter, "post", guarded)


def assert_first_period_paid_once(made) -> None:
    membership = Membership.objects.get(pk=made.membership.pk)
    assert membership.status == Membership.Status.ACTIVE and membership.period_index == 0
    assert membership.agreement.status == Agreement.Status.ACTIVE
    assert Payment.objects.filter(order__order_no=made.order.order_no).count() == 1
    assert ChargeAttempt.objects.filter(charge__membership=membership).count() == 1
    assert Charge.objects.get(membership=membership, period_index=0).status == Charge.Status.SUCCEEDED
    assert not OutboxMessage.objects.filter(topic=CHARGE_TOPIC).exists()


def test_the_first_orders_pay_link_is_pay_and_sign_for_that_order():
    made = subscribe()
    biz = link_biz(made)
    assert (biz["out_trade_no"], biz["total_amount"]) == (made.order.order_no, "30.00")
    # The trade ends with the order: no payment after the shop has closed it (docs/channels.md).
    assert biz["time_expire"] == clock.local(made.order.expires_at).strftime("%Y-%m-%d %H:%M:%S")
    rule = biz["agreement_sign_params"]["period_rule_params"]
    assert (
        rule["execute_time"]
        == first_renewal_date(subscribed_at=made.membership.created_at, period_months=1).isoformat()
    )
    assert rule["single_amount"] == "30.00" and rule["period"] == 1


def test_payment_then_signing_starts_the_membership_and_charges_nothing(no_agreement_charge):
    made = subscribe()
    trade_paid(made)
    membership = Membership.objects.get(pk=made.membership.pk)
    assert membership.status == Membership.Status.ACTIVE  # paid: VIP from now on
    assert membership.agreement.status == Agreement.Status.PENDING  # not signed yet
    signed(made)
    assert_first_period_paid_once(made)


def test_signing_then_payment_starts_the_membership_and_charges_nothing(no_agreement_charge):
    made = subscribe()
    signed(made)
    membership = Membership.objects.get(pk=made.membership.pk)
    assert membership.agreement.status == Agreement.Status.ACTIVE
    assert membership.status == Membership.Status.PENDING  # signed, not paid: no VIP yet, no charge queued
    assert not OutboxMessage.objects.filter(topic=CHARGE_TOPIC).exists()
    trade_paid(made)
    assert_first_period_paid_once(made)


def test_a_wechat_agreement_is_still_signed_first_and_then_charged_for_the_first_period():
    membership = join_vip(UserFactory(), PlanFactory(price_fen=3000), channel="wechat", auto_renew=True)
    assert membership.status == Membership.Status.ACTIVE
    attempt = ChargeAttempt.objects.select_related("order").get(charge__membership=membership)
    assert Payment.objects.filter(order=attempt.order).exists()


@pytest.mark.parametrize(
    ("start", "months", "planned"),
    [
        ("2026-01-15 10:00", 1, "2026-02-15"),
        ("2026-01-28 10:00", 1, "2026-02-28"),
        ("2026-01-31 10:00", 1, "2026-02-28"),  # joined on the 31st: charged on the 28th
        ("2026-03-30 10:00", 1, "2026-04-28"),
        ("2026-12-29 10:00", 1, "2027-01-28"),
        ("2026-11-30 10:00", 3, "2027-02-28"),
        ("2028-02-29 10:00", 12, "2029-02-28"),
        ("2026-12-31 23:30", 1, "2027-01-28"),  # Beijing calendar day, not UTC
    ],
)
def test_the_first_renewal_date_keeps_a_day_of_month_alipay_accepts(start, months, planned):
    moment = datetime.fromisoformat(start).replace(tzinfo=clock.local(clock.now()).tzinfo)
    assert first_renewal_date(subscribed_at=moment, period_months=months).isoformat() == planned
