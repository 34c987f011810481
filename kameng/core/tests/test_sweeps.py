"""lease_due: rows claimed in short transactions, worked on with none open, each row to one worker."""

import threading

import pytest
from django.db import connection, transaction

from kameng.core import clock, sweeps
from kameng.core.models import OutboxMessage


def _message(topic: str = "test.lease") -> OutboxMessage:
    moment = clock.now()
    return OutboxMessage.objects.create(topic=topic, payload={}, created_at=moment, available_at=moment)


def _pending():
    return OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING).order_by("id")


def _deliver(message: OutboxMessage) -> OutboxMessage:
    message.status = OutboxMessage.Status.DELIVERED
    message.save(update_fields=["status"])
    return message


@pytest.mark.django_db(transaction=True)
def test_each_leased_row_is_handed_over_after_its_claim_committed():
    _message(), _message()
    seen = []
    for message in sweeps.lease_due(due=_pending, lease=_deliver, limit=10):
        # No transaction is open while the caller works: a slow channel call holds no lock.
        seen.append((message.pk, connection.in_atomic_block))
    assert [open_ for _, open_ in seen] == [False, False]
    assert not _pending().exists()


@pytest.mark.django_db
def test_claims_stop_at_the_limit_in_batches():
    for _ in range(5):
        _message()
    leased = list(sweeps.lease_due(due=_pending, lease=_deliver, limit=3, batch=2))
    assert len(leased) == 3
    assert _pending().count() == 2


@pytest.mark.django_db
def test_rows_left_as_they_were_are_claimed_once_per_run_not_forever():
    _message(), _message()
    looked_at = []

    def leave(message):
        looked_at.append(message.pk)

    assert list(sweeps.lease_due(due=_pending, lease=leave, limit=1000, batch=1)) == []
    assert _pending().count() == 2 and len(looked_at) == 2


@pytest.mark.django_db
def test_a_batch_of_rows_passed_over_does_not_starve_the_rows_behind_it():
    passed_over = [_message("test.later") for _ in range(3)]
    behind = _message()

    def lease(message):
        return None if message.topic == "test.later" else _deliver(message)

    leased = list(sweeps.lease_due(due=_pending, lease=lease, limit=10, batch=3))
    assert [message.pk for message in leased] == [behind.pk]
    assert set(_pending().values_list("pk", flat=True)) == {message.pk for message in passed_over}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_row_another_worker_holds_is_skipped_not_waited_for():
    held, free = _message(), _message()
    locked, done = threading.Event(), threading.Event()

    def other_worker():
        try:
            with transaction.atomic():
                OutboxMessage.objects.select_for_update().get(pk=held.pk)
                locked.set()
                done.wait(10)
        finally:
            connection.close()

    worker = threading.Thread(target=other_worker)
    worker.start()
    try:
        assert locked.wait(10)
        leased = list(sweeps.lease_due(due=_pending, lease=_deliver, limit=10))
    finally:
        done.set()
        worker.join()
    assert [message.pk for message in leased] == [free.pk]
    assert list(_pending().values_list("pk", flat=True)) == [held.pk]
