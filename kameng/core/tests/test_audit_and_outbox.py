from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from kameng.core import clock, outbox
from kameng.core.audit import log_action
from kameng.core.models import AuditLog, OutboxMessage

calls: list[dict] = []


def _record(payload):
    calls.append(payload)


def _fail(payload):
    raise RuntimeError("mail server down")


outbox.register("test.record", _record)
outbox.register("test.fail", _fail)


def _audit_row() -> AuditLog:
    return log_action(action="thing.done", object_type="thing", object_id="1", data={"a": 1})


@pytest.mark.django_db
def test_audit_rows_cannot_be_changed_or_deleted_one_by_one():
    row = _audit_row()
    row.action = "thing.undone"
    with pytest.raises(RuntimeError):
        row.save()
    with pytest.raises(RuntimeError):
        row.delete()
    assert AuditLog.objects.get(pk=row.pk).action == "thing.done"


@pytest.mark.django_db
def test_audit_rows_cannot_be_changed_or_deleted_in_bulk():
    row = _audit_row()
    with pytest.raises(RuntimeError):
        AuditLog.objects.filter(pk=row.pk).update(action="thing.undone")
    with pytest.raises(RuntimeError):
        AuditLog.objects.all().delete()
    assert AuditLog.objects.get(pk=row.pk).action == "thing.done"


@pytest.mark.django_db
def test_the_database_refuses_an_update_of_an_audit_row_that_bypasses_the_model():
    row = _audit_row()
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE core_auditlog SET action = %s WHERE id = %s", ["thing.undone", row.pk])
    assert AuditLog.objects.get(pk=row.pk).action == "thing.done"


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgresql_refuses_a_delete_of_an_audit_row_that_bypasses_the_model():
    row = _audit_row()
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM core_auditlog WHERE id = %s", [row.pk])
    assert AuditLog.objects.filter(pk=row.pk).exists()


@pytest.mark.django_db
def test_outbox_delivers_a_message_once():
    calls.clear()
    outbox.enqueue(topic="test.record", payload={"n": 1})
    assert outbox.deliver_due() == 1
    assert outbox.deliver_due() == 0
    assert calls == [{"n": 1}]


@pytest.mark.django_db
def test_outbox_retries_a_failing_handler_with_backoff_and_keeps_the_message():
    message = outbox.enqueue(topic="test.fail", payload={})
    assert outbox.deliver_due() == 0
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.PENDING
    assert message.attempts == 1
    assert "mail server down" in message.last_error
    assert message.available_at > clock.now()
    assert outbox.deliver_due() == 0  # not due yet
    clock.advance(seconds=outbox.backoff_seconds(1) + 1)
    outbox.deliver_due()
    message.refresh_from_db()
    assert message.attempts == 2


@pytest.mark.django_db
def test_outbox_gives_up_after_the_maximum_attempts_and_marks_the_message_dead():
    message = outbox.enqueue(topic="test.fail", payload={})
    OutboxMessage.objects.filter(pk=message.pk).update(attempts=outbox.MAX_ATTEMPTS - 1)
    outbox.deliver_due()
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.DEAD


@pytest.mark.django_db
def test_a_message_whose_worker_died_is_retried_after_its_lease():
    message = outbox.enqueue(topic="test.record", payload={"n": 2})
    # A worker leased it and died before finishing.
    OutboxMessage.objects.filter(pk=message.pk).update(
        attempts=1, available_at=clock.now() + timedelta(seconds=outbox.LEASE_SECONDS)
    )
    assert outbox.deliver_due() == 0
    clock.advance(seconds=outbox.LEASE_SECONDS + 1)
    assert outbox.deliver_due() == 1


def test_enqueueing_an_unknown_topic_is_refused():
    with pytest.raises(LookupError):
        outbox.enqueue(topic="nobody.listens", payload={})
