"""Idempotency keys for API writes: the same key from the same user returns the first answer, never a second effect.

The key row is inserted before the work, in the same transaction: a concurrent duplicate blocks on the unique index
until the first commits, then reads the stored answer instead of doing the work again.

That transaction is the one the whole write runs in: a service's own `@locking.retried_atomic` inside it is only a
savepoint, which cannot retry (PostgreSQL aborts the whole transaction on a deadlock). So the key's transaction
is itself run by `locking.run_retried`: a deadlock or serialization failure anywhere in the write rolls back the
key row and the work together and runs both once more, as the service alone would have been.
"""

import hashlib
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError

from kameng.core import clock, locking
from kameng.core.error_codes import CoreErrorCode
from kameng.core.errors import DomainError
from kameng.core.models import IdempotencyKey

Answer = tuple[int, dict[str, Any]]


def run_idempotent(
    *, user, key: str, method: str, path: str, body: bytes, action: Callable[[], Answer]
) -> Answer:
    if not key:
        return action()
    if len(key) > 128 or not key.isprintable():
        raise DomainError(CoreErrorCode.BAD_IDEMPOTENCY_KEY)
    request_hash = hashlib.sha256(b"%s %s\n%s" % (method.encode(), path.encode(), body)).hexdigest()

    def record_and_act() -> Answer:
        record = IdempotencyKey.objects.create(
            user=user,
            key=key,
            method=method,
            path=path,
            request_hash=request_hash,
            status_code=0,
            response_body={},
            created_at=clock.now(),
        )
        status, payload = action()
        if status >= 500:
            raise RuntimeError("a server error is not an answer worth storing")
        record.status_code, record.response_body = status, payload
        record.save(update_fields=["status_code", "response_body"])
        return status, payload

    try:
        return locking.run_retried(record_and_act, name=f"idempotent {method} {path}")
    except IntegrityError:
        stored = IdempotencyKey.objects.filter(user=user, key=key).first()
        if stored is None:
            raise
    if stored.request_hash != request_hash:
        raise DomainError(CoreErrorCode.IDEMPOTENCY_KEY_REUSED)
    return stored.status_code, stored.response_body
