"""Alipay classic gateway protocol (RSA2), both sides: the shop and the sandbox gateway that plays Alipay.

Signed content: every parameter except `sign` (and, for notifications, `sign_type`), empty values dropped,
ASCII-sorted, raw `k=v` joined by `&`. Synchronous answers sign the exact JSON text of `<method>_response`.
"""

import json
import re
from collections.abc import Mapping

from kameng.protocols import _rsa
from kameng.protocols.errors import SignatureError


def sign_content(params: Mapping[str, str], *, include_sign_type: bool) -> str:
    skipped = {"sign"} if include_sign_type else {"sign", "sign_type"}
    pairs = sorted((k, v) for k, v in params.items() if k not in skipped and v not in (None, ""))
    return "&".join(f"{k}={v}" for k, v in pairs)


def rsa2_sign(content: str, private_key_pem: str) -> str:
    return _rsa.sign(content.encode("utf-8"), private_key_pem)


def rsa2_verify(content: str, signature_b64: str, public_key_pem: str) -> bool:
    return _rsa.verify(content.encode("utf-8"), signature_b64 or "", public_key_pem)


def verify_notification(params: Mapping[str, str], alipay_public_key_pem: str) -> bool:
    """An async notification, verified with the Alipay public key (not the app's own key)."""
    return rsa2_verify(
        sign_content(params, include_sign_type=False), params.get("sign", ""), alipay_public_key_pem
    )


def sign_notification(params: dict[str, str], alipay_private_key_pem: str) -> dict[str, str]:
    signed = {**params, "sign_type": "RSA2"}
    signed["sign"] = rsa2_sign(sign_content(signed, include_sign_type=False), alipay_private_key_pem)
    return signed


def sign_request(params: dict[str, str], app_private_key_pem: str) -> dict[str, str]:
    signed = {**params, "sign_type": "RSA2"}
    signed["sign"] = rsa2_sign(sign_content(signed, include_sign_type=True), app_private_key_pem)
    return signed


def verify_request(params: Mapping[str, str], app_public_key_pem: str) -> bool:
    return rsa2_verify(
        sign_content(params, include_sign_type=True), params.get("sign", ""), app_public_key_pem
    )


def _response_key(method: str) -> str:
    return method.replace(".", "_") + "_response"


def sign_response(method: str, payload: dict, alipay_private_key_pem: str) -> str:
    inner = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    signature = rsa2_sign(inner, alipay_private_key_pem)
    return f'{{"{_response_key(method)}":{inner},"sign":{json.dumps(signature)}}}'


def verify_response(raw_text: str, method: str, alipay_public_key_pem: str) -> dict:
    """Checks the signature over the exact raw text of the response object, then returns it parsed."""
    try:
        document = json.loads(raw_text)
        signature = document["sign"]
        inner = document[_response_key(method)]
    except (ValueError, KeyError, TypeError):
        raise SignatureError("not a signed Alipay response") from None
    match = re.search(rf'"{re.escape(_response_key(method))}"\s*:\s*', raw_text)
    if match is None:
        raise SignatureError("response object not found")
    start = match.end()
    _, length = json.JSONDecoder().raw_decode(raw_text[start:])
    if not rsa2_verify(raw_text[start : start + length], signature, alipay_public_key_pem):
        raise SignatureError("bad response signature")
    if not isinstance(inner, dict):
        raise SignatureError("response object is not an object")
    return inner
