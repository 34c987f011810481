"""SHA256withRSA (PKCS#1 v1.5) over PEM keys, with parsed keys cached: parsing a private key costs more than signing."""

import base64
import binascii
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


@lru_cache(maxsize=32)
def _private(pem: str) -> rsa.RSAPrivateKey:
    return serialization.load_pem_private_key(pem.encode(), password=None)


@lru_cache(maxsize=32)
def _public(pem: str) -> rsa.RSAPublicKey:
    return serialization.load_pem_public_key(pem.encode())


def sign(message: bytes, private_key_pem: str) -> str:
    return base64.b64encode(
        _private(private_key_pem).sign(message, padding.PKCS1v15(), hashes.SHA256())
    ).decode()


def verify(message: bytes, signature_b64: str, public_key_pem: str) -> bool:
    """True only for a good signature; garbage (bad base64, wrong length) is simply False."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        _public(public_key_pem).verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError, TypeError):
        return False
    return True
