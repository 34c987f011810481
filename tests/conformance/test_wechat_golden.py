"""Golden messages: the WeChat adapter's real outgoing requests, caught at `kameng.core.http.post`, checked field by
field against fixtures that carry WeChat's documentation page and its field table (name, type, required) — the
check is against the page, not against our adapter. Signatures are recomputed with third-party SDKs: wechatpy's
v2 helpers (MD5 / HMAC-SHA256 over the APIv2 key) and wechatpayv3's RSA signer (deterministic PKCS#1 v1.5)."""

import base64
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import xmltodict
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from wechatpayv3.utils import load_private_key, rsa_sign
from wechatpy.pay.utils import calculate_signature, calculate_signature_hmac

from kameng.payments.channels.base import AgreementTerms, Outcome, TradeState
from kameng.payments.channels.wechat import WechatChannel
from tests.conformance import wechat_fake as fake

pytestmark = pytest.mark.django_db  # the clock (kameng.core.clock) reads the sandbox's test clock

GOLDEN = Path(__file__).with_name("golden")
NOTIFY = "https://shop.example.com/payments/notify/wechat/"


def fixture(name: str) -> dict:
    return json.loads((GOLDEN / f"{name}.json").read_text())


def _flat(value: dict, prefix: str = "") -> dict:
    out = {}
    for key, item in value.items():
        out[prefix + key] = item
        if isinstance(item, dict):
            out.update(_flat(item, f"{prefix}{key}."))
    return out


def _fields(page: dict, sent: fake.Sent) -> dict:
    if page["format"] == "xml":
        return dict(xmltodict.parse(sent.body)["xml"])
    if page["format"] == "json":
        return _flat(json.loads(sent.body))
    return sent.params


def _type_ok(kind: str, value, fmt: str) -> bool:
    if fmt != "json":  # v2 XML and query strings carry text
        text = str(value)
        return {
            "integer": text.isdigit() and (text == "0" or not text.startswith("0")),
            "url": text.startswith(("https://", "http://")),
        }.get(kind, bool(text))
    return {
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "object": isinstance(value, dict),
        "url": isinstance(value, str) and value.startswith(("https://", "http://")),
    }.get(kind, isinstance(value, str) and bool(value))


def check_against_page(name: str, sent: fake.Sent, keys: fake.Keys) -> dict:
    page = fixture(name)
    assert sent.method == page["method"], page["page"]
    pattern = "^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(page["path"])) + "$"
    assert re.match(pattern, sent.path), (sent.path, page["path"])
    fields = _fields(page, sent)
    table = {f["name"]: f for f in page["fields"]}
    unknown = set(fields) - set(table)
    assert not unknown, f"not on {page['page']}: {sorted(unknown)}"
    for spec in page["fields"]:
        parent = spec["name"].rpartition(".")[0]
        if spec["required"] and (not parent or parent in fields):
            assert spec["name"] in fields, f"{spec['name']} is required by {page['page']}"
        if spec["name"] in fields:
            assert _type_ok(spec["type"], fields[spec["name"]], page["format"]), (spec, fields[spec["name"]])
            if "pattern" in spec:
                assert re.fullmatch(spec["pattern"], str(fields[spec["name"]])), (spec, fields[spec["name"]])
    if page.get("one_of"):
        assert any(all(f in fields for f in group) for group in page["one_of"]), page["one_of"]
    for field_name, value in page.get("values", {}).items():
        assert str(fields[field_name]) == str(value), field_name
    _check_signature(page, sent, fields, keys)
    return fields


def _check_signature(page: dict, sent: fake.Sent, fields: dict, keys: fake.Keys) -> None:
    if page["sign"] in ("MD5", "HMAC-SHA256"):
        unsigned = {k: v for k, v in fields.items() if k != "sign"}
        expected = (calculate_signature if page["sign"] == "MD5" else calculate_signature_hmac)(
            unsigned, fake.APIV2_KEY
        )
        assert fields["sign"] == expected, f"{page['sign']} per wechatpy"
        return
    auth = sent.headers["Authorization"]
    scheme, _, rest = auth.partition(" ")
    assert scheme == "WECHATPAY2-SHA256-RSA2048"
    parts = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    assert parts["mchid"] == fake.MCHID and parts["serial_no"] == "3775B6A45ACD588826D15E583A95F5DD00000001"
    url = sent.path + (f"?{sent.query}" if sent.query else "")
    message = f"{sent.method}\n{url}\n{parts['timestamp']}\n{parts['nonce_str']}\n{sent.body.decode()}\n"
    assert parts["signature"] == rsa_sign(load_private_key(keys.merchant_private), message)  # wechatpayv3's
    serialization.load_pem_public_key(keys.merchant_public.encode()).verify(
        base64.b64decode(parts["signature"]), message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )


@pytest.fixture
def keys():
    return fake.make_keys()


@pytest.fixture
def wechat(monkeypatch, keys):
    server = fake.FakeWechat(monkeypatch)
    return server, WechatChannel(fake.config(keys))


def v2_ok(**fields):
    return fake.v2_answer(
        {"return_code": "SUCCESS", "result_code": "SUCCESS", "mch_id": fake.MCHID, **fields}
    )


def test_h5_signing_asks_for_its_redirect_url_as_the_h5entrustweb_page_says(wechat, keys):
    server, channel = wechat
    server.answers["/papay/h5entrustweb"] = fake.v2_answer(
        {
            "return_code": "SUCCESS",
            "result_code": "SUCCESS",
            "redirect_url": "https://payapp.weixin.qq.com/x",
        },
        sign=None,  # the page's answer carries no sign
    )
    terms = AgreementTerms(
        external_no="KA2026120800000001",
        plan_name="月度会员",
        period_months=1,
        single_amount_fen=1500,
        first_charge_date=date(2027, 1, 8),
        account_label="member😀one",
        user_ref="42",
        client_ip="203.0.113.7",
    )

    url = channel.agreement_sign_url(terms=terms, notify_url=NOTIFY, return_url="https://shop.example.com/m/")

    assert url == "https://payapp.weixin.qq.com/x"
    sent = server.last("/papay/h5entrustweb")
    fields = check_against_page("wechat_h5entrustweb", sent, keys)
    assert fields["plan_id"] == "12535" and fields["contract_code"] == "KA2026120800000001"
    assert fields["notify_url"] == NOTIFY + "papay/" and fields["clientip"] == "203.0.113.7"
    assert (
        fields["contract_display_account"] == "memberone"
    )  # no 4-byte characters (开发参数与业务规则 s.3.1)
    assert len(fields["timestamp"]) == 10
    # Encoded once, escapes in upper case (section 3.2): never %253A, never %3a.
    assert "notify_url=https%3A%2F%2Fshop.example.com%2Fpayments%2Fnotify%2Fwechat%2Fpapay%2F" in sent.query
    assert "%25" not in sent.query


def test_a_renewal_charge_is_a_pappayapply_as_the_page_says(wechat, keys):
    server, channel = wechat
    server.answers["/pay/pappayapply"] = v2_ok(appid=fake.APPID)

    result = channel.charge_agreement(
        channel_agreement_no="Wx15463511252015071056489715",
        out_trade_no="KM202612080001",
        amount_fen=1500,
        subject="VIP 月度会员 续费",
        notify_url=NOTIFY,
    )

    assert result.status == Outcome.PENDING  # accepted: the charge notification tells
    fields = check_against_page("wechat_pappayapply", server.last("/pay/pappayapply"), keys)
    assert fields["total_fee"] == "1500" and fields["contract_id"] == "Wx15463511252015071056489715"
    assert fields["notify_url"] == NOTIFY + "papay/"


@pytest.mark.parametrize(
    ("agreement_no", "expected"),
    [("Wx15463511252015071056489715", {"contract_id"}), ("", {"plan_id", "contract_code"})],
)
def test_querycontract_as_the_page_says(wechat, keys, agreement_no, expected):
    server, channel = wechat
    server.answers["/papay/querycontract"] = v2_ok(contract_state="0", contract_id=agreement_no or "Wx1")

    channel.query_agreement(channel_agreement_no=agreement_no, external_no="KA1", period_months=12)

    fields = check_against_page("wechat_querycontract", server.last("/papay/querycontract"), keys)
    assert expected <= set(fields)


def test_deletecontract_as_the_page_says(wechat, keys):
    server, channel = wechat
    server.answers["/papay/deletecontract"] = v2_ok(contract_id="Wx1")

    assert channel.unsign_agreement(channel_agreement_no="Wx1", external_no="KA1", period_months=1) is True

    check_against_page("wechat_deletecontract", server.last("/papay/deletecontract"), keys)


def test_paporderquery_as_the_page_says(wechat, keys):
    server, channel = wechat
    server.answers["/pay/paporderquery"] = v2_ok(
        appid=fake.APPID, out_trade_no="KM1", trade_state="SUCCESS", transaction_id="42001", total_fee="1500"
    )

    status = channel.query_trade(out_trade_no="KM1", agreement_charge=True)

    assert (status.state, status.amount_fen, status.channel_trade_no) == (TradeState.PAID, 1500, "42001")
    check_against_page("wechat_paporderquery", server.last("/pay/paporderquery"), keys)


def test_closeorder_as_the_page_says(wechat, keys):
    server, channel = wechat
    server.answers["/pay/closeorder"] = v2_ok(appid=fake.APPID)

    assert channel.close_trade(out_trade_no="KM1", agreement_charge=True) is True

    check_against_page("wechat_closeorder", server.last("/pay/closeorder"), keys)


def test_the_pre_deduction_notice_as_the_page_says(wechat, keys):
    server, channel = wechat
    server.answers["/v3/papay/contracts/*"] = fake.v3_answer(204, None, keys=keys)

    assert (
        channel.announce_charge(channel_agreement_no="Wx15463511252015071056489715", amount_fen=1500) is True
    )

    sent = server.last("/v3/papay/contracts/")
    assert sent.path == "/v3/papay/contracts/Wx15463511252015071056489715/notify"
    fields = check_against_page("wechat_papay_notify", sent, keys)
    assert fields["estimated_amount.amount"] == 1500


def test_native_as_the_page_says(wechat, keys):
    server, channel = wechat
    server.answers["/v3/pay/transactions/native"] = fake.v3_answer(
        200, {"code_url": "weixin://wxpay/bizpayurl?pr=abc"}, keys=keys
    )

    code = channel.qr_code(
        order_no="KM1",
        amount_fen=990,
        subject="点卡",
        notify_url=NOTIFY,
        client_ip="203.0.113.7",
        expires_at=datetime(2026, 12, 8, 2, 15, tzinfo=UTC),
    )

    assert code == "weixin://wxpay/bizpayurl?pr=abc"
    fields = check_against_page("wechat_native", server.last("/v3/pay/transactions/native"), keys)
    assert fields["time_expire"] == "2026-12-08T10:15:00+08:00"  # the order's expiry, Beijing time


def test_the_v3_order_query_close_and_refund_query_as_the_pages_say(wechat, keys):
    server, channel = wechat
    server.answers["/v3/pay/transactions/out-trade-no/KM1"] = fake.v3_answer(
        200,
        {"mchid": fake.MCHID, "appid": fake.APPID, "out_trade_no": "KM1", "trade_state": "NOTPAY"},
        keys=keys,
    )
    server.answers["/v3/pay/transactions/out-trade-no/KM1/close"] = fake.v3_answer(204, None, keys=keys)
    server.answers["/v3/refund/domestic/refunds/R1"] = fake.v3_answer(
        200,
        {"out_refund_no": "R1", "out_trade_no": "KM1", "status": "PROCESSING", "refund_id": "50"},
        keys=keys,
    )

    assert channel.query_trade(out_trade_no="KM1").state == TradeState.WAITING
    assert channel.close_trade(out_trade_no="KM1") is True
    assert channel.query_refund(out_trade_no="KM1", out_refund_no="R1").status == Outcome.PENDING

    query = server.sent[0]
    assert query.path == "/v3/pay/transactions/out-trade-no/KM1" and query.params == {"mchid": fake.MCHID}
    check_against_page("wechat_query_trade", server.sent[0], keys)
    check_against_page("wechat_close_trade", server.sent[1], keys)
    check_against_page("wechat_query_refund", server.sent[2], keys)
