"""The sandbox gateway's identities, generated once into the instance folder (never committed).

Both sides of each channel: the gateway's own signing keys (what Alipay / WeChat Pay hold) and the merchant's keys
(what the shop holds), plus the WeChat APIv3 and APIv2 keys they share, in one file
(settings.KAMENG_SANDBOX_KEYS_FILE). The shop reads the merchant side from that file in
kameng.payments.channels.config, as it reads real credentials from settings.KAMENG_CHANNELS: neither app imports the
other.

WeChat Pay's platform key (微信支付公钥, `PUB_KEY_ID_…`) can be rotated (`rotate_wechat_platform_key`): the gateway
then signs with the newest serial, and the merchant side lists every serial issued, so a shop that keeps several
serials and picks one by the `Wechatpay-Serial` header keeps verifying across the change. (WeChat's guide: the
platform certificate "需定期轮换", the 微信支付公钥 is recommended —
https://github.com/wechatpay-apiv3/wechatpay-skills/blob/main/wechatpay-deduction-service/references/1-商户/接入指南/开发参数与业务规则.md
section 一 #6.)
"""

import fcntl
import json
import os
import secrets
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

ALIPAY_APP_ID = "2021000000000001"
WECHAT_MCHID = "1900000109"
WECHAT_APPID = "wxd678efh567hg6787"
WECHAT_PLATFORM_SERIAL = (
    "PUB_KEY_ID_0119000001092026000000000001"  # the first serial; rotation counts up from it
)
WECHAT_MERCHANT_SERIAL = "3775B6A45ACD588826D15E583A95F5DD00000001"


def _keypair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def platform_serial(number: int) -> str:
    """The n-th (1-based) 微信支付公钥 ID the sandbox issues."""
    return f"{WECHAT_PLATFORM_SERIAL[:-12]}{number:012d}"


def _generate() -> dict:
    alipay_private, alipay_public = _keypair()  # Alipay's own: signs its answers and notifications
    app_private, app_public = _keypair()  # the merchant app's: signs the shop's requests
    platform_private, platform_public = _keypair()  # WeChat Pay's platform key (公钥 mode)
    merchant_private, merchant_public = _keypair()  # the WeChat merchant's API key
    apiv3_key = secrets.token_hex(16)  # 32 ASCII characters, as WeChat's APIv3 key
    apiv2_key = secrets.token_hex(16)  # 32 characters, as WeChat's APIv2 key (v2 papay MD5 / HMAC-SHA256)
    return {
        "gateway": {
            "alipay_private": alipay_private,
            "alipay_app_public": app_public,
            # Every platform key issued, oldest first; the gateway signs with the last (the newest serial).
            "wechat_platform_keys": [
                {"serial": WECHAT_PLATFORM_SERIAL, "private": platform_private, "public": platform_public}
            ],
            "wechat_merchant_public": merchant_public,
            "wechat_apiv3_key": apiv3_key,
            "wechat_apiv2_key": apiv2_key,
        },
        # What the shop holds, in the shape of settings.KAMENG_CHANNELS (kameng.payments.channels.config reads it).
        "merchant": {
            "alipay": {
                "app_id": ALIPAY_APP_ID,
                "app_private_key_pem": app_private,
                "alipay_public_key_pem": alipay_public,
            },
            "wechat": {
                "mchid": WECHAT_MCHID,
                "appid": WECHAT_APPID,
                "merchant_serial": WECHAT_MERCHANT_SERIAL,
                "merchant_private_key_pem": merchant_private,
                "platform_public_keys": {WECHAT_PLATFORM_SERIAL: platform_public},
                "apiv3_key": apiv3_key,
                "apiv2_key": apiv2_key,
            },
        },
    }


def _path() -> Path:
    return Path(settings.KAMENG_SANDBOX_KEYS_FILE)


def _issued(path: Path) -> bool:
    # A file from before the merchant side (or the APIv2 key, or the list of platform serials) was written into it
    # is replaced: sandbox keys sign nothing that lasts.
    if not path.exists():
        return False
    issued = json.loads(path.read_text())
    return "merchant" in issued and "wechat_platform_keys" in issued.get("gateway", {})


def issue_keys() -> None:
    """Generates both sides' keys once, under a file lock so concurrent first starts agree on one set.

    Run when Django starts with the sandbox on (SandboxConfig.ready), before anything signs or verifies.
    """
    path = _path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _issued(path):
            _write(path, _generate())


def _write(path: Path, issued: dict) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(issued, handle)
    os.replace(tmp, path)


def rotate_wechat_platform_key() -> str:
    """Issues a new WeChat Pay platform key and signs with it from now on, in every process; returns its serial.

    The old serials stay in the merchant side's `platform_public_keys`, as WeChat keeps the old key valid while
    merchants switch over."""
    path = _path()
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        issued = json.loads(path.read_text())
        platform = issued["gateway"]["wechat_platform_keys"]
        serial = platform_serial(len(platform) + 1)
        private, public = _keypair()
        platform.append({"serial": serial, "private": private, "public": public})
        issued["merchant"]["wechat"]["platform_public_keys"][serial] = public
        _write(path, issued)
    return serial


@lru_cache(maxsize=8)
def _load(path: Path, version: int) -> dict:
    return json.loads(path.read_text())


def _issued_keys() -> dict:
    path = _path()
    return _load(
        path, path.stat().st_mtime_ns
    )  # re-read once the file changes (a rotation in another process)


def sandbox_keys() -> dict:
    """The gateway's side: its signing keys, the merchant's public keys it verifies with, the APIv3 and APIv2 keys;
    `wechat_platform_private` / `wechat_platform_serial` are the newest platform key's."""
    gateway = dict(_issued_keys()["gateway"])
    newest = gateway["wechat_platform_keys"][-1]
    gateway["wechat_platform_private"], gateway["wechat_platform_serial"] = (
        newest["private"],
        newest["serial"],
    )
    return gateway
