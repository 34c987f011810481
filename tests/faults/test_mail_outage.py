"""The mail server is down for an hour of test-clock time while the sweeps keep running (at every retry's moment):
no mail is lost or given up on, and when the server is back every message is delivered, once."""

import pytest
from aiosmtpd.controller import Controller

from kameng.core.models import OutboxMessage
from kameng.notifications import services
from kameng.notifications.models import Notification
from kameng.notifications.tests.test_notifications import CONTEXT, Mailbox, free_port
from tests.factories import UserFactory, play_for

pytestmark = pytest.mark.django_db
MAILS = 20


def test_an_hour_without_a_mail_server_loses_no_mail_and_sends_none_twice(settings):
    port = free_port()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 2
    users = [UserFactory(email=f"member{n}@example.com") for n in range(MAILS)]
    for user in users:
        services.notify(user=user, kind="membership.expired", context=CONTEXT, dedupe_key=f"end:{user.pk}")

    play_for(minutes=60)  # nothing listens on the port: every attempt, each at its backoff moment, fails
    mail = OutboxMessage.objects.filter(topic=services.EMAIL_TOPIC)
    assert mail.filter(status=OutboxMessage.Status.PENDING).count() == MAILS
    assert min(m.attempts for m in mail) >= 5

    mailbox = Mailbox()
    server = Controller(mailbox, hostname="127.0.0.1", port=port)
    server.start()
    try:
        play_for(minutes=70)  # the longest backoff after an hour is under an hour
    finally:
        server.stop()

    assert mail.filter(status=OutboxMessage.Status.DELIVERED).count() == MAILS
    assert sorted(m["To"] for m in mailbox.received) == sorted(u.email for u in users)
    assert Notification.objects.filter(email_status="sent").count() == MAILS
