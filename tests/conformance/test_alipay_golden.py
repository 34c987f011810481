"""Golden messages: every request the shop sends Alipay, checked field by field against the field table of the
API's own documentation page (tests/conformance/golden/alipay_*.json carry the page address and its table: name,
type, required, max length, and the values the page allows). The check reads the page's table, never our adapter:
a field the page does not list, a required one missing, a value too long or of the wrong type, fails.

Page-redirect calls (wap.pay, 支付并签约) are read from the signed URL the buyer is sent to; server calls are taken
from the adapter's HTTP call (kameng.core.http.post, as the adapter module holds it) and answered with a signed
success so that the adapter carries on as it would with Alipay.
"""

import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from kameng.core import clock
from kameng.core.http import HttpReply
from kameng.payments.channels import alipay as adapter
from kameng.payments.channels.base import AgreementTerms
from kameng.payments.channels.config import AlipayConfig
from kameng.protocols import alipay as protocol
from kameng.sandbox.keys import _keypair

pytestmark = pytest.mark.django_db  # the request timestamp comes from the shop's clock

GOLDEN = Path(__file__).with_name("golden")
APP_PRIVATE, APP_PUBLIC = _keypair()
ALIPAY_PRIVATE, ALIPAY_PUBLIC = _keypair()
PRICE = re.compile(r"(0|[1-9][0-9]*)\.[0-9]{2}")
NOTIFY = "https://shop.example.com/payments/notify/alipay/"
RETURN = "https://shop.example.com/orders/K20261208000000000001/"


def fixture(name: str) -> dict:
    return json.loads((GOLDEN / name).read_text())


def channel() -> adapter.AlipayChannel:
    return adapter.AlipayChannel(
        AlipayConfig(
            app_id="2021004100000001",
            app_private_key_pem=APP_PRIVATE,
            alipay_public_key_pem=ALIPAY_PUBLIC,
            gateway_url="https://openapi.alipay.com/gateway.do",
            products=frozenset({"wap", "precreate"}),
        )
    )


# --- the check: the page's table against what was sent ----------------------------------------------------------


def check_fields(sent: dict, table: list[dict], where: str) -> None:
    rows = {row["name"]: row for row in table}
    unknown = sorted(set(sent) - set(rows))
    assert not unknown, f"{where}: fields the page does not list: {unknown}"
    for row in table:
        if row["required"]:
            assert sent.get(row["name"]) not in (None, ""), f"{where}: required {row['name']} missing"
    groups: dict[str, list[str]] = {}
    for row in table:
        if "one_of" in row:
            groups.setdefault(row["one_of"], []).append(row["name"])
    for names in groups.values():
        assert any(sent.get(n) for n in names), f"{where}: one of {names} is required"
    for name, value in sent.items():
        check_value(value, rows[name], f"{where}.{name}")
    rule_type = sent.get("period_type")
    for name, value in sent.items():
        limit = rows[name].get("max_day_of_month_for_month")
        if limit and rule_type == "MONTH":
            assert date.fromisoformat(value).day <= limit, f"{where}.{name}: day after the {limit}th"


def check_value(value, row: dict, where: str) -> None:
    kind, limit = row["type"], row.get("max_length")
    if kind == "object":
        assert isinstance(value, dict), f"{where}: not an object"
        check_fields(value, row["fields"], where)
        return
    if kind == "number":
        assert isinstance(value, int) and not isinstance(value, bool), f"{where}: not a number"
        text = str(value)
    else:
        assert isinstance(value, str), f"{where}: not a string"
        text = value
    if kind == "price":
        assert PRICE.fullmatch(text), f"{where}: {text!r} is not yuan with two decimals"
    if kind == "date":
        date.fromisoformat(text)
    if limit is not None:
        assert len(text) <= limit, f"{where}: {len(text)} characters, the page allows {limit}"
    if "values" in row:
        assert text in row["values"], f"{where}: {text!r} is none of {row['values']}"
    if "forbidden" in row:
        assert text not in row["forbidden"], f"{where}: {text!r} is not allowed"
    if "pattern" in row:
        assert re.fullmatch(row["pattern"], text), f"{where}: {text!r} does not match {row['pattern']}"


def check_against(name: str, params: dict[str, str]) -> None:
    golden = fixture(name)
    assert golden["page"].startswith("https://"), "a fixture names its documentation page"
    assert params["method"] == golden["api"]
    assert protocol.verify_request(params, APP_PUBLIC), "the request is signed with the app key"
    check_fields(params, golden["common"], golden["api"])
    check_fields(json.loads(params["biz_content"]), golden["biz"], f"{golden['api']}.biz_content")


# --- capturing what the shop sends ---------------------------------------------------------------------------------


@pytest.fixture
def gateway(monkeypatch):
    """The server calls the adapter makes, each answered with a signed success naming what was asked."""
    sent: list[dict[str, str]] = []

    def answer(url: str, *, body: bytes, headers: dict, **kwargs) -> HttpReply:
        params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        sent.append(params)
        biz = json.loads(params["biz_content"])
        payload = {"code": "10000", "msg": "Success"} | {
            k: biz[k] for k in ("out_trade_no", "agreement_no") if k in biz
        }
        if params["method"] == "alipay.trade.pay":
            payload |= {"trade_no": "2026120822001400000000000001", "total_amount": biz["total_amount"]}
        if params["method"] == "alipay.trade.precreate":
            payload["qr_code"] = "https://qr.alipay.com/bax00000000000000000"
        if params["method"] == "alipay.user.agreement.query":
            payload["status"] = "NORMAL"
        text = protocol.sign_response(params["method"], payload, ALIPAY_PRIVATE)
        return HttpReply(200, {}, text.encode("utf-8"))

    monkeypatch.setattr(adapter, "post", answer)
    return sent


def url_params(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


EXPIRES_AT = datetime(2026, 12, 8, 2, 15, tzinfo=UTC)  # 10:15 in Beijing
TERMS = AgreementTerms(
    external_no="KA20261208ABCDEF0123456789",
    plan_name="月卡",
    period_months=1,
    single_amount_fen=3000,
    first_charge_date=date(2027, 1, 8),
    account_label="alice",
    user_ref="7",
    first_order_no="K20261208000000000001",
    first_amount_fen=3000,
    first_subject="VIP 月卡",
)


def test_wap_pay_matches_its_page():
    url = channel().pay_redirect_url(
        order_no="K20261208000000000001",
        amount_fen=1999,
        subject="点卡 ×1",
        notify_url=NOTIFY,
        return_url=RETURN,
        client_ip="1.2.3.4",
        expires_at=EXPIRES_AT,
    )
    params = url_params(url)
    check_against("alipay_trade_wap_pay.json", params)
    assert json.loads(params["biz_content"])["time_expire"] == "2026-12-08 10:15:00"  # Beijing time


def test_pay_and_sign_matches_the_pay_and_sign_table():
    url = channel().agreement_sign_url(
        terms=replace(TERMS, first_expires_at=EXPIRES_AT), notify_url=NOTIFY, return_url=RETURN
    )
    params = url_params(url)
    check_against("alipay_trade_wap_pay_and_sign.json", params)
    assert json.loads(params["biz_content"])["time_expire"] == "2026-12-08 10:15:00"


def test_the_agreement_charge_matches_its_page(gateway):
    channel().charge_agreement(
        channel_agreement_no="20265223000000000001",
        out_trade_no="K20261208000000000002",
        amount_fen=3000,
        subject="VIP 月卡 续费",
        notify_url=NOTIFY,
    )
    check_against("alipay_trade_pay_cycle.json", gateway[0])


def test_the_refund_matches_its_page(gateway):
    channel().refund(
        out_trade_no="K20261208000000000001",
        out_refund_no="R20261208000000000001",
        refund_fen=1000,
        total_fen=3000,
        reason="会员退订按日退款",
    )
    check_against("alipay_trade_refund.json", gateway[0])


def test_precreate_matches_its_page(gateway):
    channel().qr_code(
        order_no="K20261208000000000001",
        amount_fen=1999,
        subject="点卡 ×1",
        notify_url=NOTIFY,
        client_ip="1.2.3.4",
        expires_at=clock.now() + timedelta(minutes=15),
    )
    check_against("alipay_trade_precreate.json", gateway[0])
    assert json.loads(gateway[0]["biz_content"])["timeout_express"] in ("14m", "15m")


def test_unsign_matches_its_page(gateway):
    channel().unsign_agreement(
        channel_agreement_no="20265223000000000001", external_no=TERMS.external_no, period_months=1
    )
    check_against("alipay_user_agreement_unsign.json", gateway[0])


def test_agreement_query_matches_its_page(gateway):
    channel().query_agreement(
        channel_agreement_no="20265223000000000001", external_no=TERMS.external_no, period_months=1
    )
    check_against("alipay_user_agreement_query.json", gateway[0])


def test_the_check_catches_a_field_the_page_does_not_list():
    """The check itself can fail: an invented field, a missing required one, an overlong value, a bad price."""
    table = fixture("alipay_trade_precreate.json")["biz"]
    good = {"out_trade_no": "K1", "total_amount": "19.99", "subject": "点卡"}
    check_fields(good, table, "ok")
    for bad in (
        good | {"notify_url": "x"},
        {k: v for k, v in good.items() if k != "subject"},
        good | {"out_trade_no": "K" * 65},
        good | {"total_amount": "19.9"},
        good | {"product_code": "QUICK_WAP_WAY"},
    ):
        with pytest.raises(AssertionError):
            check_fields(bad, table, "bad")
