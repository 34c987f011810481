from datetime import timedelta

import pytest

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


@pytest.mark.django_db
def test_audit_rows_cannot_be_changed_or_deleted():
    row = log_action(action="thing.done", object_type="thing", object_id="1", data={"a": 1})
    row.action = "thing.undone"
    with pytest.raises(RuntimeError):
        row.save()
    with pytest.raises(RuntimeError):
        row.delete()
    assert AuditLog.objects.get(pk=row.pk).action == "thing.done"


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
