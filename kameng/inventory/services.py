"""Card-key stock: import, reserve, release, sell, reveal. Reservation is where overselling is prevented."""

import csv
import io
import unicodedata
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from kameng.catalog.models import Delivery, Product
from kameng.core import clock, locking
from kameng.core.audit import Source, log_action
from kameng.core.errors import DomainError
from kameng.inventory.crypto import decrypt_secret, encrypt_secret, secret_digest
from kameng.inventory.error_codes import InventoryErrorCode
from kameng.inventory.models import SECRET_MAX_CHARS, CardKey, ImportBatch


class OutOfStock(DomainError):
    """Caught by the order flow to fall back to manual fulfilment."""

    def __init__(self):
        super().__init__(InventoryErrorCode.OUT_OF_STOCK)


@dataclass
class ParsedImport:
    secrets: list[tuple[int, str]] = field(default_factory=list)  # (line number, secret)
    rejected: list[dict] = field(default_factory=list)  # {"line", "reason"}: a code of REJECT_REASONS


def decode_upload(raw: bytes) -> str:
    if len(raw) > settings.KAMENG_IMPORT_MAX_BYTES:
        raise DomainError(
            InventoryErrorCode.FILE_TOO_LARGE, size=len(raw), limit=settings.KAMENG_IMPORT_MAX_BYTES
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DomainError(InventoryErrorCode.NOT_UTF8, byte=exc.start) from None


def _problem(secret: str) -> str | None:
    if len(secret) > SECRET_MAX_CHARS:
        return "too_long"
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Co", "Cs"} for ch in secret):
        return "invisible_characters"
    return None


def parse_lines(text: str, *, csv_format: bool = False) -> ParsedImport:
    """One key per line; in CSV, one key per row (card number and password columns are joined by a space)."""
    parsed = ParsedImport()
    if csv_format:
        rows = ((n, [c.strip() for c in row]) for n, row in enumerate(csv.reader(io.StringIO(text)), 1))
    else:
        rows = ((n, [line.strip()]) for n, line in enumerate(text.splitlines(), 1))
    for number, cells in rows:
        if number > settings.KAMENG_IMPORT_MAX_LINES:
            raise DomainError(InventoryErrorCode.TOO_MANY_LINES, limit=settings.KAMENG_IMPORT_MAX_LINES)
        cells = [c for c in cells if c]
        if not cells:
            continue
        if len(cells) > 2:
            parsed.rejected.append({"line": number, "reason": "too_many_columns"})
            continue
        secret = " ".join(cells)
        reason = _problem(secret)
        if reason:
            parsed.rejected.append({"line": number, "reason": reason})
        else:
            parsed.secrets.append((number, secret))
    return parsed


@transaction.atomic
def import_card_keys(
    *, product: Product, text: str, source: str, actor=None, csv_format: bool = False, first_line: int = 1
) -> ImportBatch:
    """Imports valid, new keys; duplicates (in the file or in stock) and malformed lines are reported, not imported.
    `text` may be one piece of a longer file starting at `first_line`: the report numbers lines as in the file."""
    if product.delivery != Delivery.AUTO:
        raise DomainError(InventoryErrorCode.MANUAL_PRODUCT)
    parsed = parse_lines(text, csv_format=csv_format)
    digests = {number: secret_digest(secret) for number, secret in parsed.secrets}
    existing = set(
        CardKey.objects.filter(product=product, secret_digest__in=set(digests.values())).values_list(
            "secret_digest", flat=True
        )
    )
    batch = ImportBatch.objects.create(
        product=product, created_by=actor, source=source, created_at=clock.now()
    )
    seen: set[str] = set()
    fresh: list[CardKey] = []
    duplicates: list[dict] = []
    for number, secret in parsed.secrets:
        digest = digests[number]
        if digest in existing or digest in seen:
            duplicates.append({"line": number, "reason": "duplicate"})
            continue
        seen.add(digest)
        fresh.append(
            CardKey(
                product=product,
                batch=batch,
                secret_encrypted=encrypt_secret(secret, product_id=product.pk),
                secret_digest=digest,
            )
        )
    # A concurrent import of the same key loses the race on the unique index and counts as a duplicate.
    CardKey.objects.bulk_create(fresh, ignore_conflicts=True, batch_size=1000)
    batch.imported = CardKey.objects.filter(batch=batch).count()
    batch.duplicates = len(duplicates) + (len(fresh) - batch.imported)
    batch.malformed = len(parsed.rejected)
    batch.report = sorted(
        ({**row, "line": row["line"] + first_line - 1} for row in parsed.rejected + duplicates),
        key=lambda row: row["line"],
    )
    batch.save(update_fields=["imported", "duplicates", "malformed", "report"])
    log_action(
        action="cardkeys.imported",
        obj=batch,
        actor=actor,
        source=source if source == Source.CLI else Source.ADMIN,
        data={
            "product": product.sku,
            "imported": batch.imported,
            "duplicates": batch.duplicates,
            "malformed": batch.malformed,
        },
    )
    return batch


def reserve_keys(*, order, quantity: int) -> list[int]:
    """Takes `quantity` available keys for the order, inside the caller's transaction; all or none.

    SKIP LOCKED lets concurrent buyers take different rows instead of queueing on the same ones.
    """
    available = CardKey.objects.filter(product_id=order.product_id, status=CardKey.Status.AVAILABLE)
    ids = [key.id for key in locking.claim(available.order_by("id").only("id"), limit=quantity)]
    if len(ids) < quantity:
        raise OutOfStock()
    taken = CardKey.objects.filter(id__in=ids, status=CardKey.Status.AVAILABLE).update(
        status=CardKey.Status.RESERVED, order=order, reserved_at=clock.now()
    )
    if taken != quantity:  # cannot happen under row locks; refuse rather than oversell if it ever does
        raise OutOfStock()
    return ids


def release_keys(*, order) -> int:
    return CardKey.objects.filter(order=order, status=CardKey.Status.RESERVED).update(
        status=CardKey.Status.AVAILABLE, order=None, reserved_at=None
    )


def sell_keys(*, order) -> int:
    return CardKey.objects.filter(order=order, status=CardKey.Status.RESERVED).update(
        status=CardKey.Status.SOLD, sold_at=clock.now()
    )


def reveal_secrets(*, order, viewer, source: str) -> list[str]:
    """Decrypts the order's sold keys for one viewer; every reveal is audit-logged. Permission is the caller's."""
    keys = list(CardKey.objects.filter(order=order, status=CardKey.Status.SOLD).order_by("id"))
    if not keys:
        return []
    secrets = [decrypt_secret(bytes(k.secret_encrypted), product_id=k.product_id) for k in keys]
    log_action(
        action="cardkeys.revealed",
        obj=order,
        actor=viewer,
        source=source,
        data={"card_key_ids": [k.pk for k in keys]},
    )
    return secrets
