"""WeChat Pay API v2 messages, both sides: the flat `<xml>` documents of 委托代扣 (papay) calls, answers and
notifications, signed with the APIv2 key (MD5 or HMAC-SHA256, `wechat.v2_sign`).

The documents are flat: one `<xml>` root whose children are leaves. Anything else (a DOCTYPE, an entity, nesting,
a repeated field) is refused before any field is read, so a hostile body cannot expand or smuggle values.
"""

import secrets
import xml.etree.ElementTree as ET
from collections.abc import Mapping

from kameng.protocols.errors import ChannelProtocolError, SignatureError
from kameng.protocols.wechat import v2_sign, v2_verify

MAX_BYTES = 64 * 1024


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
    except ET.ParseError:
        raise ChannelProtocolError("not XML") from None
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


def verified(fields: Mapping[str, str], key: str) -> dict[str, str]:
    """`fields` when their `sign` verifies under the APIv2 key (by their own `sign_type`); else SignatureError."""
    if not fields.get("sign") or fields.get("sign_type", "MD5") not in ("MD5", "HMAC-SHA256"):
        raise SignatureError("missing sign or unsupported sign_type")
    if not v2_verify(fields, key):
        raise SignatureError("bad v2 signature")
    return dict(fields)
