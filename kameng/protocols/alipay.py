"""Alipay classic gateway protocol (RSA2), both sides: the shop and the sandbox gateway that plays Alipay.

Requests (what the merchant signs): every parameter except `sign`, empty values dropped, ASCII-sorted, raw `k=v`
joined by `&`. Notifications (what Alipay signs): every parameter it sends except `sign` and `sign_type`, empty
values INCLUDED ("除去 sign、sign_type 两个参数外，凡是通知返回回来的参数皆是待验签的参数", Alipay's 异步通知验签 page,
https://opendocs.alipay.com/open/203/105286; python-alipay-sdk and Alipay's Java SDK keep them too), the bytes of
that text in the notification's own `charset` (utf-8 or GBK). Synchronous answers sign the exact JSON text of
`<method>_response`.
"""

import html
import json
from collections.abc import Mapping
from urllib.parse import parse_qsl

from kameng.protocols import _rsa
from kameng.protocols.errors import SignatureError

# The charsets Alipay's gateway signs with (the `charset` common parameter): utf-8, gbk, gb2312.
CHARSETS = {"utf-8": "utf-8", "utf8": "utf-8", "gbk": "gbk", "gb2312": "gbk"}


def charset_of(params: Mapping[str, str]) -> str:
    """The Python codec for a message's `charset` parameter (utf-8 when absent); ValueError for any other."""
    name = (params.get("charset") or "utf-8").strip().lower()
    if name not in CHARSETS:
        raise ValueError(f"unsupported charset {name!r}")
    return CHARSETS[name]


def sign_content(params: Mapping[str, str], *, include_sign_type: bool) -> str:
    """The signed text of a request (include_sign_type=True: empty values dropped, as the merchant SDKs sign) or
    of a notification (False: every parameter but sign and sign_type, empty ones included)."""
    if include_sign_type:
        pairs = sorted((k, v) for k, v in params.items() if k != "sign" and v not in (None, ""))
    else:
        pairs = sorted((k, v or "") for k, v in params.items() if k not in ("sign", "sign_type"))
    return "&".join(f"{k}={v}" for k, v in pairs)


def rsa2_sign(content: str, private_key_pem: str, *, encoding: str = "utf-8") -> str:
    return _rsa.sign(content.encode(encoding), private_key_pem)


def rsa2_verify(content: str, signature_b64: str, public_key_pem: str, *, encoding: str = "utf-8") -> bool:
    try:
        data = content.encode(encoding)
    except UnicodeEncodeError:
        return False
    return _rsa.verify(data, signature_b64 or "", public_key_pem)


def _unescaped(params: Mapping[str, str]) -> dict[str, str]:
    return {k: html.unescape(v) if k not in ("sign", "sign_type") else v for k, v in params.items()}


def verify_notification(params: Mapping[str, str], alipay_public_key_pem: str) -> bool:
    """An async notification, verified with the Alipay public key (not the app's own key), over the bytes of its
    own charset. Alipay signs `fund_bill_list` (and any JSON value) as plain JSON but may deliver it HTML-escaped
    (`[{&quot;amount&quot;:…}]`, reported in lokielse/omnipay-alipay#143): when the text as received does not
    verify and a value carries an HTML entity, the unescaped text is tried. Either way Alipay's signature must
    cover what we read."""
    try:
        encoding = charset_of(params)
    except ValueError:
        return False
    signature = params.get("sign", "")
    content = sign_content(params, include_sign_type=False)
    if rsa2_verify(content, signature, alipay_public_key_pem, encoding=encoding):
        return True
    unescaped = sign_content(_unescaped(params), include_sign_type=False)
    return unescaped != content and rsa2_verify(
        unescaped, signature, alipay_public_key_pem, encoding=encoding
    )


def sign_notification(params: dict[str, str], alipay_private_key_pem: str) -> dict[str, str]:
    signed = {**params, "sign_type": "RSA2"}
    signed["sign"] = rsa2_sign(
        sign_content(signed, include_sign_type=False), alipay_private_key_pem, encoding=charset_of(signed)
    )
    return signed


def sign_request(params: dict[str, str], app_private_key_pem: str) -> dict[str, str]:
    signed = {**params, "sign_type": "RSA2"}
    signed["sign"] = rsa2_sign(sign_content(signed, include_sign_type=True), app_private_key_pem)
    return signed


def verify_request(params: Mapping[str, str], app_public_key_pem: str) -> bool:
    return rsa2_verify(
        sign_content(params, include_sign_type=True), params.get("sign", ""), app_public_key_pem
    )


def parse_form(body: bytes) -> dict[str, str]:
    """A notification's form body in the charset it names: a `charset=GBK` notification percent-encodes GBK bytes.
    Raises ValueError for a body that is not a form, names an unknown charset or does not decode in it."""
    # latin-1 maps each byte to one character, so the bytes survive parsing whatever the charset turns out to be.
    raw = parse_qsl(body.decode("latin-1"), keep_blank_values=True, strict_parsing=True, encoding="latin-1")
    encoding = charset_of(dict(raw))
    return {k.encode("latin-1").decode(encoding): v.encode("latin-1").decode(encoding) for k, v in raw}


def _response_key(method: str) -> str:
    return method.replace(".", "_") + "_response"


def sign_response(method: str, payload: dict, alipay_private_key_pem: str) -> str:
    inner = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    signature = rsa2_sign(inner, alipay_private_key_pem)
    return f'{{"{_response_key(method)}":{inner},"sign":{json.dumps(signature)}}}'


# JSON's own whitespace (RFC 8259): what may stand between the tokens of the answer's top-level object.
_BLANK = frozenset(" \t\n\r")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """object_pairs_hook: an object naming a key twice is refused, so no parser can read another value than ours."""
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key in a JSON object")
    return dict(pairs)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


# The standard library's JSON scanner, strict: no duplicate keys at any depth, no NaN or Infinity.
_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=_refuse_constant)


def _skip_blank(text: str, at: int) -> int:
    while at < len(text) and text[at] in _BLANK:
        at += 1
    return at


def _top_level_members(text: str) -> list[tuple[str, object, int, int]]:
    """The members of the document's top-level object as (key, value, start, end): text[start:end] is exactly the
    value's JSON text. Scanned token by token with the JSON decoder itself (raw_decode at each value's offset), so
    a key inside a string or a nested object is never taken for a top-level one. Raises ValueError."""
    at = _skip_blank(text, 0)
    if text[at : at + 1] != "{":
        raise ValueError("not a JSON object")
    members: list[tuple[str, object, int, int]] = []
    at = _skip_blank(text, at + 1)
    if text[at : at + 1] == "}":
        at += 1
    else:
        while True:
            if text[at : at + 1] != '"':
                raise ValueError("expected a key")
            key, at = _DECODER.raw_decode(text, at)
            at = _skip_blank(text, at)
            if text[at : at + 1] != ":":
                raise ValueError("expected ':'")
            start = _skip_blank(text, at + 1)
            value, end = _DECODER.raw_decode(text, start)
            members.append((key, value, start, end))
            at = _skip_blank(text, end)
            if text[at : at + 1] == ",":
                at = _skip_blank(text, at + 1)
                continue
            if text[at : at + 1] != "}":
                raise ValueError("expected ',' or '}'")
            at += 1
            break
    if _skip_blank(text, at) != len(text):
        raise ValueError("text after the object")
    return members


def verify_response(raw_text: str, method: str, alipay_public_key_pem: str) -> dict:
    """Checks the signature over the exact raw text of `<method>_response` and returns that text, parsed.

    The answer must be one JSON object naming each key once (at every depth), with `<method>_response` and `sign`
    at its top level; the signed text is cut out of the answer where the JSON scanner found that member, and what
    is returned is decoded from exactly those characters. So no second copy (a duplicate key, an object beside or
    inside another one) can be read instead of the signed one. Raises SignatureError."""
    try:
        members = _top_level_members(raw_text)
    except ValueError:
        raise SignatureError("not a signed Alipay response") from None
    found: dict[str, tuple[object, int, int]] = {}
    for key, value, start, end in members:
        if key in found:
            raise SignatureError(f"the answer names {key!r} twice")
        found[key] = (value, start, end)
    if _response_key(method) not in found or "sign" not in found:
        raise SignatureError("not a signed Alipay response")
    inner, start, end = found[_response_key(method)]
    signature = found["sign"][0]
    if not isinstance(signature, str) or not isinstance(inner, dict):
        raise SignatureError("not a signed Alipay response")
    if not rsa2_verify(raw_text[start:end], signature, alipay_public_key_pem):
        raise SignatureError("bad response signature")
    return inner
