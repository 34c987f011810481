"""Card secrets at rest: AES-256-GCM with a random nonce, bound to their product by the associated data.

Stored form: 1 version byte ‖ 12-byte nonce ‖ ciphertext‖tag. Duplicates are found by an HMAC of the secret under
a key derived from the same master key, so detecting them never needs decryption and leaks nothing useful.
"""

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

VERSION = 1


@lru_cache(maxsize=4)
def _keys(master_b64: str) -> tuple[AESGCM, bytes]:
    master = base64.b64decode(master_b64)
    if len(master) != 32:
        raise ValueError("KAMENG_CARD_KEY must be base64 of 32 bytes")
    encryption_key = hmac.new(master, b"kameng card-key encryption v1", hashlib.sha256).digest()
    digest_key = hmac.new(master, b"kameng card-key digest v1", hashlib.sha256).digest()
    return AESGCM(encryption_key), digest_key


def _aad(product_id: int) -> bytes:
    return f"kameng:cardkey:product:{product_id}".encode()


def encrypt_secret(secret: str, *, product_id: int) -> bytes:
    aead, _ = _keys(settings.KAMENG_CARD_KEY)
    nonce = os.urandom(12)
    return bytes([VERSION]) + nonce + aead.encrypt(nonce, secret.encode(), _aad(product_id))


def decrypt_secret(blob: bytes, *, product_id: int) -> str:
    blob = bytes(blob)
    if not blob or blob[0] != VERSION:
        raise ValueError("unknown card-key encryption version")
    aead, _ = _keys(settings.KAMENG_CARD_KEY)
    return aead.decrypt(blob[1:13], blob[13:], _aad(product_id)).decode()


def secret_digest(secret: str) -> str:
    _, digest_key = _keys(settings.KAMENG_CARD_KEY)
    return hmac.new(digest_key, secret.encode(), hashlib.sha256).hexdigest()
