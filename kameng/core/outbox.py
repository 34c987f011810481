"""Transactional outbox: side effects recorded with the state change, delivered after commit, retried until done.

Handlers are registered by the apps that own them (in AppConfig.ready) and must be idempotent: a worker that dies
after the effect but before marking the message delivered will run it again.
"""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Min, QuerySet

from kameng.core import clock, locking, sweeps
from kameng.core.audit import Source, log_action
from kameng.core.models import OutboxMessage

log = logging.getLogger(__name__)
Handler = Callable[[dict[str, Any]], None]
_handlers: dict[str, Handler] = {}
MAX_ATTEMPTS = 25
MAX_BACKOFF_SECONDS = 3600
LEASE_SECONDS = 120  # a handler that has not finished by then is presumed dead


class RetryLater(Exception):
    """A handler's way to say: not done yet, try again after the backoff (not an error worth a traceback)."""


def register(topic: str, handler: Handler) -> None:
    _handlers[topic] = handler


def enqueue(*, topic: str, payload: dict[str, Any], delay_seconds: int = 0) -> OutboxMessage:
    if topic not in _handlers:
        raise LookupError(f"no outbox handler for {topic!r}")
    moment = clock.now()
    message = OutboxMessage.objects.create(
        topic=topic,
        payload=payload,
        created_at=moment,
        available_at=moment + timedelta(seconds=delay_seconds),
    )
    if delay_seconds == 0:
        from kameng.core.tasks import deliver_outbox  # here: the task module imports this one

        transaction.on_commit(deliver_outbox.delay)
    return message


def backoff_seconds(attempts: int) -> int:
    return min(MAX_BACKOFF_SECONDS, 10 * 2 ** max(0, attempts - 1))


def deliver_due(*, limit: int = 100) -> int:
    """Delivers up to `limit` due messages; any number of workers may run this at once.

    A message is leased in a short transaction and its handler runs outside it, so no lock is held across a call
    to another system. A worker that dies mid-handler leaves the message to be retried when the lease ends.
    """
    delivered = 0
    for message in sweeps.lease_due(due=_due, lease=_lease, limit=limit):
        delivered += _deliver_one(message)
    return delivered


def _pending() -> QuerySet[OutboxMessage]:
    return OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING)


def next_due() -> datetime | None:
    return _pending().aggregate(at=Min("available_at"))["at"]


def _due() -> QuerySet[OutboxMessage]:
    return _pending().filter(available_at__lte=clock.now()).order_by("available_at", "id")


def _lease(message: OutboxMessage) -> OutboxMessage:
    message.attempts += 1
    message.available_at = clock.now() + timedelta(seconds=LEASE_SECONDS)
    message.save(update_fields=["attempts", "available_at"])
    return message


def _deliver_one(message: OutboxMessage) -> bool:
    try:
        _handlers[message.topic](message.payload)
    except Exception as exc:  # a failed side effect must never lose the message
        if not isinstance(exc, RetryLater):
            log.exception("outbox %s #%s failed", message.topic, message.pk)
        message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if message.attempts >= MAX_ATTEMPTS:
            message.status = OutboxMessage.Status.DEAD
        message.available_at = clock.now() + timedelta(seconds=backoff_seconds(message.attempts))
    else:
        message.status = OutboxMessage.Status.DELIVERED
        message.delivered_at = clock.now()
        message.last_error = ""
    message.save(update_fields=["last_error", "status", "available_at", "delivered_at"])
    return message.status == OutboxMessage.Status.DELIVERED


def retry_dead(*, message_ids: list[int], actor) -> int:
    """An operator sends dead messages round again (after fixing the cause): pending now, attempts from zero."""
    retried = 0
    with transaction.atomic():
        for message in locking.lock(
            OutboxMessage.objects.filter(pk__in=message_ids, status=OutboxMessage.Status.DEAD)
        ):
            message.status, message.attempts, message.available_at = (
                OutboxMessage.Status.PENDING,
                0,
                clock.now(),
            )
            message.save(update_fields=["status", "attempts", "available_at"])
            log_action(action="outbox.retried", obj=message, actor=actor, source=Source.ADMIN)
            retried += 1
    if retried:
        from kameng.core.tasks import deliver_outbox  # here: the task module imports this one

        transaction.on_commit(deliver_outbox.delay)
    return retried
