"""The sandbox gateway's identities, generated once into the instance folder (never committed).

Both sides of each channel: the gateway's own signing keys (what Alipay / WeChat Pay hold) and the merchant's keys
(what the shop holds), plus the WeChat APIv3 key they share. The shop reads the merchant side through
payments.channels.config exactly as it would read real credentials from the environment.
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


def _generate() -> dict[str, str]:
    keys: dict[str, str] = {}
    for name in ("alipay", "alipay_app", "wechat_platform", "wechat_merchant"):
        keys[f"{name}_private"], keys[f"{name}_public"] = _keypair()
    keys["wechat_apiv3_key"] = secrets.token_hex(16)  # 32 ASCII characters, as WeChat's APIv3 key
    return keys


def _path() -> Path:
    return Path(settings.INSTANCE_DIR) / "sandbox" / "keys.json"


@lru_cache(maxsize=1)
def sandbox_keys() -> dict[str, str]:
    """Loads the keys, generating them under a file lock so concurrent first starts agree on one set."""
    path = _path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(_generate(), handle)
            os.replace(tmp, path)
        return json.loads(path.read_text())
