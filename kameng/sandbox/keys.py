"""The sandbox gateway's identities, generated once into the instance folder (never committed).

Both sides of each channel: the gateway's own signing keys (what Alipay / WeChat Pay hold) and the merchant's keys
(what the shop holds), plus the WeChat APIv3 key they share, in one file (settings.KAMENG_SANDBOX_KEYS_FILE). The
shop reads the merchant side from that file in kameng.payments.channels.config, as it reads real credentials from
settings.KAMENG_CHANNELS: neither app imports the other.
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
WECHAT_PLATFORM_SERIAL = "PUB_KEY_ID_0119000001092026000000000001"
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


def _generate() -> dict:
    alipay_private, alipay_public = _keypair()  # Alipay's own: signs its answers and notifications
    app_private, app_public = _keypair()  # the merchant app's: signs the shop's requests
    platform_private, platform_public = _keypair()  # WeChat Pay's platform key (公钥 mode)
    merchant_private, merchant_public = _keypair()  # the WeChat merchant's API key
    apiv3_key = secrets.token_hex(16)  # 32 ASCII characters, as WeChat's APIv3 key
    return {
        "gateway": {
            "alipay_private": alipay_private,
            "alipay_app_public": app_public,
            "wechat_platform_private": platform_private,
            "wechat_merchant_public": merchant_public,
            "wechat_apiv3_key": apiv3_key,
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
            },
        },
    }


def _path() -> Path:
    return Path(settings.KAMENG_SANDBOX_KEYS_FILE)


def _issued(path: Path) -> bool:
    # A file from before the merchant side was written into it is replaced: sandbox keys sign nothing that lasts.
    return path.exists() and "merchant" in json.loads(path.read_text())


def issue_keys() -> None:
    """Generates both sides' keys once, under a file lock so concurrent first starts agree on one set.

    Run when Django starts with the sandbox on (SandboxConfig.ready), before anything signs or verifies.
    """
    path = _path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _issued(path):
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(_generate(), handle)
            os.replace(tmp, path)


@lru_cache(maxsize=4)
def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def sandbox_keys() -> dict[str, str]:
    """The gateway's side: its signing keys, the merchant's public keys it verifies with, the APIv3 key."""
    return _load(_path())["gateway"]
