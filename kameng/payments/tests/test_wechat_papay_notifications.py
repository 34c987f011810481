"""WeChat 委托代扣's v2 notifications at /payments/notify/wechat/papay/, built as WeChat documents them
(签约-解约结果通知, 扣款结果通知) with kameng.protocols.wechat_v2: the sign starts the first charge, a failed
charge is a definite refusal, a forged or foreign one is refused and logged (never a 5xx), a repeat counts once."""

import pytest
from django.test import Client, override_settings

from kameng.membership import services as membership
from kameng.membership.models import Agreement, Charge, Membership
from kameng.payments.models import NotificationLog, Payment
from kameng.protocols import wechat_v2
from tests.conformance import wechat_fake as fake
from tests.factories import PlanFactory, UserFactory, settle

pytestmark = pytest.mark.django_db
URL = "/payments/notify/wechat/papay/"


@pytest.fixture
def wechat(monkeypatch):
    keys = fake.make_keys()
    config = fake.config(keys)
    settings_value = {k: getattr(config, k) for k in config.__dataclass_fields__}
    with override_settings(KAMENG_CHANNELS={"wechat": settings_value}):
        server = fake.FakeWechat(monkeypatch)
        server.answers["/papay/h5entrustweb"] = fake.v2_answer(
            {
                "return_code": "SUCCESS",
                "result_code": "SUCCESS",
                "redirect_url": "https://payapp.weixin.qq.com/s",
            },
            sign=None,
        )
        server.answers["/pay/pappayapply"] = fake.v2_answer(
            {"return_code": "SUCCESS", "result_code": "SUCCESS", "mch_id": fake.MCHID, "appid": fake.APPID}
        )
        # The reconcile sweep asks about agreements: WeChat says what it is asked about is signed.
        server.answers["/papay/querycontract"] = lambda sent: fake.v2_answer(
            {
                "return_code": "SUCCESS",
                "result_code": "SUCCESS",
                "mch_id": fake.MCHID,
                "contract_state": "0",
                **{
                    k: v
                    for k, v in wechat_v2.from_xml(sent.body).items()
                    if k.startswith(("contract_", "plan_"))
                },
            }
        )
        yield server


def post(fields: dict, *, key: str = fake.APIV2_KEY, sign_type: str = "MD5"):
    body = wechat_v2.to_xml(wechat_v2.signed(fields, key, sign_type))
    return Client().post(URL, body, content_type="text/xml")


def subscribed():
    made = membership.subscribe(
        user=UserFactory(),
        plan_code=PlanFactory().code,
        channel="wechat",
        auto_renew=True,
        consent=membership.ConsentContext(given=True, ip="203.0.113.7", user_agent="pytest"),
    )
    return made, Agreement.objects.get(membership=made.membership)


def signed_notice(agreement, change_type="ADD", contract_id="Wx15463511252015071056489715", **extra):
    return {
        "return_code": "SUCCESS",
        "result_code": "SUCCESS",
        "mch_id": fake.MCHID,
        "contract_code": agreement.external_no,
        "openid": "onqOjjmM1tad-3ROpncN-yUfa6ua",
        "plan_id": str(fake.PLANS[1]),
        "change_type": change_type,
        "operate_time": "2026-12-08 10:00:00",
        "contract_id": contract_id,
        **extra,
    }


def charge_notice(order, **fields):
    return {
        "return_code": "SUCCESS",
        "appid": fake.APPID,
        "mch_id": fake.MCHID,
        "nonce_str": "5d2b6c2a8db53831f7eda20af46e531c",
        "out_trade_no": order.order_no,
        "contract_id": "Wx15463511252015071056489715",
        **fields,
    }


def acknowledged(response) -> bool:
    return response.status_code == 200 and wechat_v2.from_xml(response.content)["return_code"] == "SUCCESS"


def refused(response) -> bool:
    return response.status_code == 200 and wechat_v2.from_xml(response.content)["return_code"] == "FAIL"


@pytest.fixture
def signed(wechat):
    made, agreement = subscribed()
    assert acknowledged(
        post(signed_notice(agreement), sign_type="HMAC-SHA256")
    )  # H5 signing: HMAC by default
    settle()
    return made, Agreement.objects.get(pk=agreement.pk)


def test_the_sign_notification_activates_the_agreement_and_charges_the_first_period_at_once(signed, wechat):
    made, agreement = signed
    assert agreement.status == Agreement.Status.ACTIVE
    assert agreement.channel_agreement_no == "Wx15463511252015071056489715"
    sent = wechat.last("/pay/pappayapply")  # within 12 h of signing: no notice first (首次签约 rule)
    assert wechat_v2.from_xml(sent.body)["out_trade_no"] == made.order.order_no
    assert not [s for s in wechat.sent if s.path.startswith("/v3/papay/contracts/")]


def test_the_sign_link_is_wechats_redirect_url_with_the_members_address(wechat):
    from kameng.payments.selectors import pay_redirect_url

    made, _ = subscribed()
    assert pay_redirect_url(order=made.order, client_ip="203.0.113.7") == "https://payapp.weixin.qq.com/s"
    assert wechat.last("/papay/h5entrustweb").params["clientip"] == "203.0.113.7"


def test_a_successful_charge_notification_pays_the_first_period(signed):
    made, _ = signed
    order = made.order
    notice = charge_notice(
        order,
        result_code="SUCCESS",
        transaction_id="4200001",
        total_fee=str(order.amount_fen),
        trade_state="SUCCESS",
    )
    assert acknowledged(post(notice))
    assert acknowledged(post(notice))  # WeChat's retry: counted once
    assert Payment.objects.filter(order=order, channel_trade_no="4200001").count() == 1
    assert Membership.objects.get(pk=made.membership.pk).status == Membership.Status.ACTIVE


def test_a_failed_charge_notification_is_a_definite_refusal(signed):
    made, _ = signed
    notice = charge_notice(made.order, result_code="FAIL", err_code="NOTENOUGH", err_code_des="余额不足")
    assert acknowledged(post(notice))
    charge = Charge.objects.get(membership=made.membership, period_index=0)
    assert charge.status == Charge.Status.FAILED and "NOTENOUGH" in charge.last_error
    assert not Payment.objects.filter(order=made.order).exists()


def test_a_systemerror_charge_notification_decides_nothing(signed):
    made, _ = signed
    assert acknowledged(post(charge_notice(made.order, result_code="FAIL", err_code="SYSTEMERROR")))
    assert Charge.objects.get(membership=made.membership, period_index=0).status == Charge.Status.PENDING


def test_the_termination_notification_ends_the_agreement(signed):
    _, agreement = signed
    assert acknowledged(post(signed_notice(agreement, "DELETE", contract_termination_mode="2")))
    assert Agreement.objects.get(pk=agreement.pk).status == Agreement.Status.TERMINATED


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda a: post(signed_notice(a, "DELETE"), key="f" * 32), id="wrong key"),
        pytest.param(lambda a: post(signed_notice(a, "DELETE", mch_id="1999999999")), id="another merchant"),
        pytest.param(lambda a: post(signed_notice(a, "DELETE", plan_id="99")), id="another template"),
        pytest.param(lambda a: post(signed_notice(a, "DELETE", contract_id="Wx999")), id="another contract"),
        pytest.param(
            lambda a: post(signed_notice(a, "DELETE", contract_code="KA20990101000000001")), id="unknown"
        ),
        pytest.param(lambda a: Client().post(URL, b"<xml><a>1</a>", content_type="text/xml"), id="not XML"),
        pytest.param(
            lambda a: Client().post(
                URL, wechat_v2.to_xml(signed_notice(a, "DELETE", sign="0" * 32)), content_type="text/xml"
            ),
            id="made-up sign",
        ),
    ],
)
def test_a_forged_or_foreign_notification_is_refused_logged_and_changes_nothing(signed, forge):
    _, agreement = signed
    response = forge(agreement)
    assert refused(response)
    assert Agreement.objects.get(pk=agreement.pk).status == Agreement.Status.ACTIVE
    assert NotificationLog.objects.filter(channel="wechat", accepted=False).exists()
