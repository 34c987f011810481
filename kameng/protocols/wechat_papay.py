"""WeChat Pay 委托代扣 (papay, API v2) details beyond the flat XML codec: how a signing entry URL is encoded, and how
a v2 signature is checked when a message does not name its `sign_type`.

WeChat's guide: 签名与验签规则 s.二 (sign over the raw values, ASCII order, empty values left out) and
开发参数与业务规则 s.3.2 (the signing entry's `notify_url` is URL-encoded once, with upper-case escapes, and signed
before encoding): https://github.com/wechatpay-apiv3/wechatpay-skills, wechatpay-deduction-service/references/1-商户/.
"""

import hmac
from collections.abc import Mapping
from urllib.parse import quote

from kameng.protocols.errors import SignatureError
from kameng.protocols.wechat import v2_sign

MD5 = "MD5"
HMAC_SHA256 = "HMAC-SHA256"
# An MD5 sign is 32 hex digits, an HMAC-SHA256 one 64: how a message that does not say its sign_type is read.
_SIGN_TYPE_BY_LENGTH = {32: MD5, 64: HMAC_SHA256}


def entry_query(params: Mapping[str, object]) -> str:
    """The query string of a signing entry (papay/h5entrustweb, entrustweb): every value encoded exactly once,
    escapes in upper case (`%3A%2F%2F`), in the order given."""
    return "&".join(
        f"{key}={quote(str(value), safe='')}" for key, value in params.items() if value is not None
    )


def sign_type_of(fields: Mapping[str, str]) -> str:
    """The algorithm a received v2 message is signed with: its own `sign_type` when it names one; otherwise told by
    the sign's length, since WeChat signs an H5-signed contract's notifications with HMAC-SHA256 by default and
    the rest with MD5 (签名与验签规则 s.一). Both are keyed with the APIv2 key, so either is as hard to forge."""
    named = fields.get("sign_type", "")
    if named:
        if named not in (MD5, HMAC_SHA256):
            raise SignatureError(f"unsupported sign_type {named!r}")
        return named
    try:
        return _SIGN_TYPE_BY_LENGTH[len(fields.get("sign", ""))]
    except KeyError:
        raise SignatureError("missing or malformed sign") from None


def verified(fields: Mapping[str, str], key: str) -> dict[str, str]:
    """`fields` when their `sign` verifies under the APIv2 key; else SignatureError. Every field but `sign` counts,
    the unknown ones too (a field WeChat adds later is still signed: 签名与验签规则 s.2.2 rule 6)."""
    if not key:
        raise SignatureError("no APIv2 key configured")
    expected = v2_sign(fields, key, sign_type_of(fields))
    if not hmac.compare_digest(expected, str(fields.get("sign", "")).upper()):
        raise SignatureError("bad v2 signature")
    return dict(fields)
