"""Inventory's proof after a restore (registered with core.backups in InventoryConfig.ready)."""

from cryptography.exceptions import InvalidTag

from kameng.core.backups import BackupError
from kameng.inventory.crypto import decrypt_secret
from kameng.inventory.models import CardKey


def prove_card_key_decrypts() -> str:
    """Decrypts one card key with the configured key and throws the plaintext away: the key matches the data."""
    row = CardKey.objects.order_by("pk").values_list("pk", "product_id", "secret_encrypted").first()
    if row is None:
        return "no card keys in the backup: nothing to decrypt"
    pk, product_id, blob = row
    try:
        decrypt_secret(bytes(blob), product_id=product_id)
    except (InvalidTag, ValueError):
        raise BackupError(f"card key #{pk} does not decrypt with the configured KAMENG_CARD_KEY") from None
    return f"card key #{pk} decrypts with the configured KAMENG_CARD_KEY (its secret was not shown)"
