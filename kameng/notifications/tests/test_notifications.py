"""Inbox and e-mail, with mail sent to a real SMTP server (aiosmtpd) on loopback."""

import socket
from email.header import decode_header, make_header

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from django.test import Client

from kameng.core import clock, outbox
from kameng.core.models import OutboxMessage
from kameng.notifications import services, sms
from kameng.notifications.models import Notification
from tests.factories import UserFactory, api_client

pytestmark = pytest.mark.django_db
CONTEXT = {"plan_name": "月卡", "ended_at": None, "member_url": "http://127.0.0.1:8000/member/"}


class Mailbox(Message):
    def __init__(self):
        super().__init__()
        self.received = []

    def handle_message(self, message):
        self.received.append(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp(settings):
    port = free_port()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    yield controller, mailbox
    if controller._thread is not None:
        controller.stop()


def test_a_notification_lands_in_the_inbox_and_is_mailed_once(smtp):
    controller, mailbox = smtp
    controller.start()
    user = UserFactory(email="member@example.com")
    note = services.notify(user=user, kind="membership.expired", context=CONTEXT, dedupe_key="end:1")
    services.notify(user=user, kind="membership.expired", context=CONTEXT, dedupe_key="end:1")
    outbox.deliver_due()
    outbox.deliver_due()
    assert Notification.objects.filter(user=user).count() == 1
    assert len(mailbox.received) == 1
    mail = mailbox.received[0]
    assert mail["To"] == "member@example.com" and "月卡" in str(make_header(decode_header(mail["Subject"])))
    note.refresh_from_db()
    assert note.email_status == "sent"


def test_mail_server_down_delays_mail_but_never_loses_it(smtp):
    controller, mailbox = smtp
    user = UserFactory()
    services.notify(user=user, kind="membership.expired", context=CONTEXT)  # the caller's work commits
    outbox.deliver_due()
    message = OutboxMessage.objects.get(topic=services.EMAIL_TOPIC)
    assert message.status == OutboxMessage.Status.PENDING and message.attempts == 1
    controller.start()
    clock.advance(seconds=3600)
    outbox.deliver_due()
    assert len(mailbox.received) == 1
    assert Notification.objects.get(user=user).email_status == "sent"


def test_english_members_read_english():
    user = UserFactory(language="en")
    note = services.notify(user=user, kind="membership.expired", context=CONTEXT, channels=("inbox",))
    assert "has ended" in note.subject


def test_inbox_shows_own_messages_and_the_unread_count_and_hides_others():
    mine, other = UserFactory(), UserFactory()
    note = services.notify(user=mine, kind="membership.expired", context=CONTEXT, channels=("inbox",))
    theirs = services.notify(user=other, kind="membership.expired", context=CONTEXT, channels=("inbox",))
    client = Client()
    client.force_login(mine)
    page = client.get("/notifications/").content.decode()
    assert note.subject in page and 'class="badge"' in page
    assert client.post(f"/notifications/{theirs.pk}/read/").status_code == 404
    assert client.post(f"/notifications/{note.pk}/read/").status_code == 302
    assert Notification.objects.get(pk=note.pk).read_at is not None
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_api_lists_and_marks_read_only_the_callers_messages():
    mine, other = UserFactory(), UserFactory()
    note = services.notify(user=mine, kind="membership.expired", context=CONTEXT, channels=("inbox",))
    theirs = services.notify(user=other, kind="membership.expired", context=CONTEXT, channels=("inbox",))
    client = api_client(mine)
    listed = client.get("/api/v1/notifications").json()
    assert [n["id"] for n in listed] == [note.pk] and listed[0]["read"] is False
    assert client.post(f"/api/v1/notifications/{note.pk}/read").json()["read"] is True
    assert client.post(f"/api/v1/notifications/{theirs.pk}/read").status_code == 404


def test_sms_goes_through_the_configured_backend():
    user = UserFactory(phone="13800000000")
    before = len(sms.ConsoleSmsBackend.sent)
    services.notify(user=user, kind="membership.expired", context=CONTEXT, channels=("inbox", "sms"))
    outbox.deliver_due()
    assert sms.ConsoleSmsBackend.sent[before:][0][0] == "13800000000"
