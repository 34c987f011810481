"""WeChat Pay API v2 messages, both sides: the flat `<xml>` documents of 委托代扣 (papay) calls, answers and
notifications, signed with the APIv2 key (MD5 or HMAC-SHA256, `wechat.v2_sign`).

The documents are flat: one `<xml>` root whose children are leaves. Anything else (a DOCTYPE, an entity, nesting,
a repeated field, an encoding other than UTF-8) is refused before any field is read, so a hostile body cannot
expand or smuggle values, nor make the parser fail in a way nobody catches.

WeChat's guide: 签名与验签规则 s.一/s.二 (https://github.com/wechatpay-apiv3/wechatpay-skills,
wechatpay-deduction-service/references/1-商户/).
"""

import hmac
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Mapping

from kameng.protocols.errors import ChannelProtocolError, SignatureError
from kameng.protocols.wechat import v2_sign

MAX_BYTES = 64 * 1024
MD5 = "MD5"
HMAC_SHA256 = "HMAC-SHA256"
# An MD5 sign is 32 hex digits, an HMAC-SHA256 one 64: how a message that does not say its sign_type is read.
_SIGN_TYPE_BY_LENGTH = {32: MD5, 64: HMAC_SHA256}


def _cdata(value: str) -> str:
    # "]]>" cannot appear inside one CDATA section: split it across two.
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def to_xml(fields: Mapping[str, object]) -> bytes:
    """A flat `<xml>` document, every value as CDATA (as WeChat Pay writes them)."""
    parts = []
    for key, value in fields.items():
        if value is None:
            continue
        if not key.isidentifier():
            raise ValueError(f"not an XML field name: {key!r}")
        parts.append(f"<{key}>{_cdata(str(value))}</{key}>")
    return ("<xml>" + "".join(parts) + "</xml>").encode("utf-8")


def from_xml(body: bytes) -> dict[str, str]:
    """The fields of a flat `<xml>` document; raises ChannelProtocolError for anything else."""
    if not body or len(body) > MAX_BYTES:
        raise ChannelProtocolError("empty or oversized XML")
    upper = body.upper()
    if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
        raise ChannelProtocolError("XML with a DOCTYPE or an entity")
    try:
        root = ET.fromstring(body)  # noqa: S314 (no DOCTYPE, so no entity can be declared or expanded)
    except (ET.ParseError, LookupError, ValueError):
        # LookupError: a declaration naming an encoding Python does not know (encoding="foo"); ValueError (and
        # UnicodeDecodeError): bytes the declared encoding cannot read. Either is a body we do not take.
        raise ChannelProtocolError("not XML in an encoding WeChat uses") from None
    if root.tag != "xml":
        raise ChannelProtocolError("root element is not <xml>")
    fields: dict[str, str] = {}
    for child in root:
        if len(child) or child.tag in fields:
            raise ChannelProtocolError(f"nested or repeated field {child.tag!r}")
        fields[child.tag] = child.text or ""
    return fields


def nonce() -> str:
    return secrets.token_hex(16)


def signed(fields: Mapping[str, object], key: str, sign_type: str = "MD5") -> dict[str, str]:
    """`fields` (None dropped, values as text) with their `sign`; a non-MD5 `sign_type` is itself signed."""
    params = {k: str(v) for k, v in fields.items() if v is not None}
    if sign_type != "MD5":
        params["sign_type"] = sign_type
    params["sign"] = v2_sign(params, key, sign_type)
    return params


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
    """`fields` when their `sign` verifies under the APIv2 key (`sign_type_of`); else SignatureError. Every field
    but `sign` counts, the unknown ones too (a field WeChat adds later is still signed: 签名与验签规则 s.2.2 rule 6).
    The one v2 verifier: the shop's adapter and the sandbox both check with it."""
    if not key:
        raise SignatureError("no APIv2 key configured")
    expected = v2_sign(fields, key, sign_type_of(fields))
    if not hmac.compare_digest(expected, str(fields.get("sign", "")).upper()):
        raise SignatureError("bad v2 signature")
    return dict(fields)
