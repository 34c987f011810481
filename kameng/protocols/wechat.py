"""WeChat Pay APIv3 protocol, both sides: request signatures, callback/answer verification, AES-256-GCM resources.

Also the v2 MD5 / HMAC-SHA256 signature, for v2 委托代扣 templates.
"""

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kameng.protocols import _rsa
from kameng.protocols.errors import SignatureError

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
MAX_CLOCK_SKEW = 300
_AUTH_FIELD = re.compile(r'(\w+)="([^"]*)"')


def request_sign_message(method: str, url_path_with_query: str, timestamp: str, nonce: str, body: str) -> str:
    return f"{method}\n{url_path_with_query}\n{timestamp}\n{nonce}\n{body}\n"


def build_authorization(
    *,
    mchid: str,
    serial_no: str,
    method: str,
    url_path: str,
    body: str,
    merchant_private_key_pem: str,
    timestamp: str | None = None,
    nonce: str | None = None,
) -> str:
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or secrets.token_hex(16).upper()
    signature = _rsa.sign(
        request_sign_message(method, url_path, timestamp, nonce, body).encode("utf-8"),
        merchant_private_key_pem,
    )
    return (
        f'{SIGNATURE_TYPE} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial_no}"'
    )


def parse_authorization(header: str) -> dict[str, str]:
    scheme, _, rest = (header or "").partition(" ")
    if scheme != SIGNATURE_TYPE:
        return {}
    return dict(_AUTH_FIELD.findall(rest))


def _fresh(timestamp: str, now_ts: int, max_skew: int) -> bool:
    return timestamp.isdigit() and abs(now_ts - int(timestamp)) <= max_skew


def verify_authorization(
    *,
    header: str,
    method: str,
    url_path: str,
    body: str,
    merchant_public_key_pem: str,
    now_ts: int,
    max_skew: int = MAX_CLOCK_SKEW,
) -> bool:
    """The gateway's check of a merchant request: signature over the exact bytes, and a fresh timestamp."""
    fields = parse_authorization(header)
    needed = ("mchid", "nonce_str", "signature", "timestamp", "serial_no")
    if not all(fields.get(k) for k in needed) or not _fresh(fields["timestamp"], now_ts, max_skew):
        return False
    message = request_sign_message(method, url_path, fields["timestamp"], fields["nonce_str"], body)
    return _rsa.verify(message.encode("utf-8"), fields["signature"], merchant_public_key_pem)


def _header(headers: Mapping[str, str], name: str) -> str:
    """Case-insensitive lookup that also understands Django's META keys (HTTP_WECHATPAY_TIMESTAMP)."""
    meta = "HTTP_" + name.upper().replace("-", "_")
    if meta in headers:
        return str(headers[meta])
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return str(value)
    return ""


def verify_callback(
    *,
    headers: Mapping[str, str],
    body: bytes,
    platform_public_keys: Mapping[str, str],
    now_ts: int,
    max_skew: int = MAX_CLOCK_SKEW,
) -> None:
    """Verifies a callback or a signed answer over `timestamp\\nnonce\\nbody\\n`; raises SignatureError."""
    timestamp = _header(headers, "Wechatpay-Timestamp")
    nonce = _header(headers, "Wechatpay-Nonce")
    signature = _header(headers, "Wechatpay-Signature")
    serial = _header(headers, "Wechatpay-Serial")
    if not (timestamp and nonce and signature and serial):
        raise SignatureError("missing Wechatpay-* headers")
    if _header(headers, "Wechatpay-Signature-Type") not in ("", SIGNATURE_TYPE):
        raise SignatureError("unsupported signature type")
    public_key = platform_public_keys.get(serial)
    if public_key is None:
        raise SignatureError("unknown Wechatpay-Serial")
    if not _fresh(timestamp, now_ts, max_skew):
        raise SignatureError("stale or future timestamp")
    message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
    if not _rsa.verify(message, signature, public_key):
        raise SignatureError("bad signature")


def _aes_key(apiv3_key: str | bytes) -> AESGCM:
    key = apiv3_key.encode() if isinstance(apiv3_key, str) else apiv3_key
    if len(key) != 32:
        raise SignatureError("APIv3 key must be 32 bytes")
    return AESGCM(key)


def decrypt_resource(resource: Mapping, apiv3_key: str | bytes) -> dict:
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise SignatureError("unsupported resource algorithm")
    try:
        plain = _aes_key(apiv3_key).decrypt(
            str(resource["nonce"]).encode(),
            base64.b64decode(resource["ciphertext"], validate=True),
            (resource.get("associated_data") or "").encode() or None,
        )
        return json.loads(plain)
    except (InvalidTag, KeyError, binascii.Error, ValueError, TypeError):
        raise SignatureError("resource does not decrypt") from None


def encrypt_resource(
    plain: dict,
    *,
    apiv3_key: str | bytes,
    associated_data: str,
    nonce: str | None = None,
    original_type: str,
) -> dict:
    nonce = nonce or secrets.token_hex(6)
    ciphertext = _aes_key(apiv3_key).encrypt(
        nonce.encode(), json.dumps(plain, ensure_ascii=False).encode(), associated_data.encode() or None
    )
    return {
        "original_type": original_type,
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "nonce": nonce,
        "associated_data": associated_data,
    }


def sign_callback(*, body: bytes, platform_private_key_pem: str, timestamp: str, nonce: str) -> str:
    return _rsa.sign(f"{timestamp}\n{nonce}\n".encode() + body + b"\n", platform_private_key_pem)


def build_callback(
    *,
    event_type: str,
    summary: str,
    resource_plain: dict,
    resource_type_original: str,
    apiv3_key: str,
    platform_private_key_pem: str,
    platform_serial: str,
    now_ts: int,
    event_id: str,
) -> tuple[dict[str, str], bytes]:
    """A complete signed callback as WeChat Pay sends it: headers and the exact body bytes."""
    create_time = time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(now_ts + 8 * 3600))
    envelope = {
        "id": event_id,
        "create_time": create_time,
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": summary,
        "resource": encrypt_resource(
            resource_plain,
            apiv3_key=apiv3_key,
            associated_data=resource_type_original,
            original_type=resource_type_original,
        ),
    }
    body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
    timestamp, nonce = str(now_ts), secrets.token_hex(16).upper()
    headers = {
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": sign_callback(
            body=body, platform_private_key_pem=platform_private_key_pem, timestamp=timestamp, nonce=nonce
        ),
        "Wechatpay-Serial": platform_serial,
        "Wechatpay-Signature-Type": SIGNATURE_TYPE,
    }
    return headers, body


def v2_sign(params: Mapping[str, str], key: str, sign_type: str = "MD5") -> str:
    content = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "sign" and v not in (None, ""))
    content += f"&key={key}"
    if sign_type == "HMAC-SHA256":
        return hmac.new(key.encode(), content.encode(), hashlib.sha256).hexdigest().upper()
    return hashlib.md5(content.encode()).hexdigest().upper()  # noqa: S324 (the v2 protocol's own choice)


def v2_verify(params: Mapping[str, str], key: str) -> bool:
    sign_type = params.get("sign_type", "MD5")
    return hmac.compare_digest(v2_sign(params, key, sign_type), str(params.get("sign", "")))
