"""`POST /sandbox/pay/{order_no}` pays any order as its buyer would: when the shop's link leads to a signing page
(WeChat's H5 纯签约, Alipay's agreement.page.sign), it signs the agreement as the member would, for that order's
member; the shop then charges the first period through it."""

import json
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from django.test import Client

from kameng.core import clock
from kameng.protocols import alipay as alipay_protocol
from kameng.sandbox import keys, views
from kameng.sandbox.models import SandboxAgreement
from kameng.sandbox.tests.wechat_client import h5_sign_url
from tests.factories import UserFactory, place_order, stocked_product

pytestmark = pytest.mark.django_db


def _shop_links_to(monkeypatch, url: str) -> None:
    monkeypatch.setattr(
        views.paying, "payments", lambda: SimpleNamespace(pay_url=lambda order, client_ip: url)
    )


def _order():
    return place_order(UserFactory(), stocked_product(keys=1, price_fen=1500), channel="wechat")


def test_an_h5entrustweb_link_is_signed_for_the_orders_member(monkeypatch):
    order = _order()
    _shop_links_to(monkeypatch, "http://testserver" + h5_sign_url("K900001"))
    reply = Client().post(f"/sandbox/pay/{order.order_no}")
    assert reply.status_code == 200, reply.content
    contract = SandboxAgreement.objects.get(channel="wechat", external_no="K900001")
    assert reply.json() == {
        "order_no": order.order_no,
        "channel": "wechat",
        "agreement_no": contract.agreement_no,
        "status": "signed",
    }
    assert (contract.status, contract.member_ref) == ("NORMAL", str(order.user_id))


def test_the_signing_pages_redirect_url_is_signed_too(monkeypatch):
    order = _order()
    Client().get(h5_sign_url("K900002"))  # the shop asked WeChat for the signing page
    _shop_links_to(monkeypatch, "http://testserver/sandbox/agreements/K900002/sign?channel=wechat")
    assert Client().post(f"/sandbox/pay/{order.order_no}").json()["status"] == "signed"
    assert SandboxAgreement.objects.get(external_no="K900002").status == "NORMAL"


def test_an_alipay_agreement_sign_link_is_signed_not_refused_as_an_unknown_method(monkeypatch):
    order = _order()
    merchant = keys._issued_keys()["merchant"]["alipay"]
    params = {
        "app_id": keys.ALIPAY_APP_ID,
        "method": "alipay.user.agreement.page.sign",
        "charset": "utf-8",
        "timestamp": clock.now().strftime("%Y-%m-%d %H:%M:%S"),
        "version": "1.0",
        "notify_url": "http://testserver/payments/notify/alipay/",
        "biz_content": json.dumps(
            {
                "personal_product_code": "CYCLE_PAY_AUTH_P",
                "access_params": {"channel": "ALIPAYAPP"},
                "sign_scene": "INDUSTRY|DIGITAL_MEDIA",
                "external_agreement_no": "A900003",
                "external_logon_id": "member",
                "period_rule_params": {
                    "period_type": "MONTH",
                    "period": 1,
                    "execute_time": "2027-01-28",
                    "single_amount": "15.00",
                },
            }
        ),
    }
    signed = alipay_protocol.sign_request(params, merchant["app_private_key_pem"])
    _shop_links_to(monkeypatch, "http://testserver/sandbox/alipay/gateway.do?" + urlencode(signed))
    reply = Client().post(f"/sandbox/pay/{order.order_no}")
    assert (reply.status_code, reply.json()["status"]) == (200, "signed")
    assert SandboxAgreement.objects.get(channel="alipay", external_no="A900003").status == "NORMAL"
