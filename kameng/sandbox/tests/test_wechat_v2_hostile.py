"""A hostile body at any of the sandbox's WeChat Pay v2 (XML) APIs is answered as WeChat answers a request it cannot
read: HTTP 200, `return_code` FAIL with a `return_msg`, unsigned — never a 5xx, never a business answer.

The codes are the v2 pages' error tables' (申请扣款 https://pay.weixin.qq.com/doc/v2/merchant/4011987377.md, and the
委托代扣 guide, wechatpay-apiv3/wechatpay-skills wechatpay-deduction-service/references/1-商户/接入指南/
签名与验签规则.md section 2.3: UTF-8 only): XML_FORMAT_ERROR "XML格式错误", NOT_UTF8 "编码格式错误", POST_DATA_EMPTY
"post数据为空". Signed requests whose integers are not plain ASCII digits of a sane length are PARAM_ERROR."""

import pytest
import xmltodict
from django.test import Client

from kameng.core.http import HttpReply
from kameng.sandbox import agreements, wechat_notifications
from kameng.sandbox.models import SandboxAgreement
from kameng.sandbox.tests.wechat_client import charge_fields, h5_sign_url, move_to, v2_post

pytestmark = pytest.mark.django_db

V2_XML_APIS = [
    "pay/pappayapply",
    "pay/paporderquery",
    "pay/orderquery",
    "pay/closeorder",
    "papay/querycontract",
    "papay/deletecontract",
]
_FIELDS = "<appid>wxd678efh567hg6787</appid><mch_id>1900000109</mch_id>"
HOSTILE = {
    # ElementTree raises LookupError (not ParseError) for an encoding Python does not know, or one that is no text
    # encoding; ValueError for a multi-byte one it cannot feed to expat; UnicodeError for a codec that fails.
    "unknown encoding": (
        b'<?xml version="1.0" encoding="foo"?><xml>' + _FIELDS.encode() + b"</xml>",
        "编码格式错误",
    ),
    "no text encoding": (b'<?xml version="1.0" encoding="rot13"?><xml/>', "编码格式错误"),
    "multi-byte encoding": (b'<?xml version="1.0" encoding="utf-32"?><xml/>', "编码格式错误"),
    "failing codec": (b'<?xml version="1.0" encoding="idna"?><xml/>', "编码格式错误"),
    "declared GBK": (b'<?xml version="1.0" encoding="GBK"?><xml><body>\xd6\xd0</body></xml>', "编码格式错误"),
    "UTF-16 body": ("<xml><appid>x</appid></xml>".encode("utf-16"), "编码格式错误"),
    "DOCTYPE with entities": (
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
        b"<xml><body>&b;&b;&b;</body></xml>",
        "XML格式错误",
    ),
    "external entity": (
        b'<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><body>&x;</body></xml>',
        "XML格式错误",
    ),
    "nested field": (b"<xml>" + _FIELDS.encode() + b"<body><a>1</a></body></xml>", "XML格式错误"),
    "repeated field": (b"<xml><appid>a</appid><appid>b</appid></xml>", "XML格式错误"),
    "other root": (b"<root>" + _FIELDS.encode() + b"</root>", "XML格式错误"),
    "not XML": (b"appid=wxd678efh567hg6787&mch_id=1900000109", "XML格式错误"),
    "unclosed": (b"<xml><appid>wxd678efh567hg6787</appid>", "XML格式错误"),
    "oversized": (b"<xml><body>" + b"a" * (64 * 1024) + b"</body></xml>", "XML格式错误"),
    "past Django's upload limit": (
        b"<xml><body>" + b"a" * (3 * 1024 * 1024) + b"</body></xml>",
        "XML格式错误",
    ),
    "empty": (b"", "post数据为空"),
    "blank": (b"  \n ", "post数据为空"),
}


def _post(path: str, body: bytes):
    return Client().post(f"/sandbox/wechat/{path}", data=body, content_type="text/xml")


@pytest.mark.parametrize("path", V2_XML_APIS)
@pytest.mark.parametrize("case", list(HOSTILE), ids=str)
def test_a_hostile_body_is_answered_return_code_fail_unsigned_never_a_5xx(path, case):
    body, message = HOSTILE[case]
    reply = _post(path, body)
    assert reply.status_code == 200, reply.content[:200]
    answer = dict(xmltodict.parse(reply.content)["xml"])
    assert answer == {"return_code": "FAIL", "return_msg": message}


def test_the_same_fields_in_a_well_formed_utf8_declaration_are_read():
    """The guard refuses encodings, not declarations: a UTF-8 one is what WeChat's own examples may carry."""
    body = b'<?xml version="1.0" encoding="UTF-8"?><xml>' + _FIELDS.encode() + b"</xml>"
    answer = dict(xmltodict.parse(_post("pay/pappayapply", body).content)["xml"])
    assert answer["return_code"] == "FAIL" and answer["return_msg"] == "签名错误"


@pytest.mark.parametrize(
    "total_fee",
    ["١٥٠٠", "²", "9" * 5000, str(2**31)],
    ids=["arabic-indic digits", "superscript two", "5000 digits", "past 32 bits"],
)
def test_a_signed_charge_whose_total_fee_is_no_plain_32_bit_integer_is_a_param_error(total_fee):
    move_to(
        1, 9
    )  # inside 07:00–22:00 and the 12 h after the first signing: a good total_fee would be charged
    assert Client().get(h5_sign_url("K900001")).status_code == 200
    contract = agreements.sign_agreement(
        agreement=SandboxAgreement.objects.get(external_no="K900001"), member_ref=""
    )
    answer = v2_post("pay/pappayapply", charge_fields(contract.agreement_no, "K900001", total_fee))
    assert (answer["return_code"], answer["result_code"], answer["err_code"]) == (
        "SUCCESS",
        "FAIL",
        "PARAM_ERROR",
    )


@pytest.mark.parametrize(
    "body",
    [b'<?xml version="1.0" encoding="foo"?><xml><return_code>SUCCESS</return_code></xml>', b"success", b""],
    ids=["unknown encoding", "plain success", "empty"],
)
def test_a_merchant_answer_the_parser_cannot_read_is_not_accepted_and_is_retried(body):
    assert wechat_notifications.accepted(HttpReply(status=200, headers={}, body=body)) is False
