"""The v2 flat-XML codec: what WeChat Pay's v2 papay calls and notifications are made of."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kameng.protocols import wechat_v2
from kameng.protocols.errors import ChannelProtocolError, SignatureError

KEY = "192006250b4c09247ec02edce69f6a2d"  # the key of WeChat Pay's v2 signing guide
NAMES = st.from_regex(r"[a-z][a-z_]{0,15}", fullmatch=True)
# XML 1.0 text: no control characters but tab / newline, and none of the two non-characters.
TEXT = st.text(
    st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters="\ufffe\uffff"), max_size=40
)


@given(st.dictionaries(NAMES, TEXT, max_size=8))
def test_any_flat_document_reads_back_as_written(fields):
    assert wechat_v2.from_xml(wechat_v2.to_xml(fields)) == fields


@given(st.dictionaries(NAMES.filter(lambda n: n not in ("sign", "sign_type")), TEXT, min_size=1, max_size=8))
def test_a_signed_document_verifies_and_a_changed_one_does_not(fields):
    message = wechat_v2.signed(fields, KEY, "HMAC-SHA256")
    assert wechat_v2.verified(wechat_v2.from_xml(wechat_v2.to_xml(message)), KEY) == message
    name = next(iter(fields))
    with pytest.raises(SignatureError):
        wechat_v2.verified({**message, name: message[name] + "x"}, KEY)


def test_the_official_example_signs_as_the_guide_says():
    params = {"appid": "wxd930ea5d5a258f4f", "mch_id": "10000100", "device_info": "1000", "body": "test"}
    params["nonce_str"] = "ibuaiVcKdpRxkhJA"
    assert wechat_v2.signed(params, KEY)["sign"] == "9A0A8659F005D6984697E2CA0A9CF3B7"


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><a>&a;</a></xml>',
        b"<xml><a><b>1</b></a></xml>",
        b"<xml><a>1</a><a>2</a></xml>",
        b"<root><a>1</a></root>",
        b"<xml><a>1</a>",
        b"",
        b"<xml>" + b"<a>1</a>" * 10000 + b"</xml>",
        b'<?xml version="1.0" encoding="foo"?><xml><a>1</a></xml>',
        b"<xml><a>\xff\xfe</a></xml>",
    ],
    ids=[
        "entity",
        "nested",
        "repeated",
        "root",
        "unclosed",
        "empty",
        "oversized",
        "unknown-encoding",
        "not-utf8",
    ],
)
def test_anything_but_a_flat_document_is_refused(body):
    with pytest.raises(ChannelProtocolError):
        wechat_v2.from_xml(body)


def test_an_unsupported_sign_type_is_refused():
    message = wechat_v2.signed({"a": "1"}, KEY)
    with pytest.raises(SignatureError):
        wechat_v2.verified({**message, "sign_type": "RSA"}, KEY)


@pytest.mark.parametrize("sign_type", ["MD5", "HMAC-SHA256"])
def test_a_message_that_does_not_name_its_sign_type_is_verified_by_its_sign_length(sign_type):
    # WeChat signs an H5-signed contract's notifications with HMAC-SHA256 without saying so (签名与验签规则 s.一).
    fields = {"a": "1", "b": "2"}
    message = {**fields, "sign": wechat_v2.v2_sign(fields, KEY, sign_type)}
    assert wechat_v2.verified(message, KEY) == message


def test_a_lower_case_sign_verifies_and_a_missing_key_verifies_nothing():
    message = wechat_v2.signed({"a": "1"}, KEY)
    assert wechat_v2.verified({**message, "sign": message["sign"].lower()}, KEY)
    with pytest.raises(SignatureError):
        wechat_v2.verified(message, "")
