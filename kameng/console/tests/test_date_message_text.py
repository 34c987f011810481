"""The dashboard's out-of-range date message and what it shows instead read as two sentences, zh and en."""

import pytest
from django.test import Client

from kameng.core.roles import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def dashboard(language: str) -> str:
    client = Client()
    client.force_login(UserFactory(role=Role.OPERATOR))
    client.cookies["django_language"] = language
    return client.get("/console/?from=9999-12-31").content.decode()


def test_the_out_of_range_message_ends_its_sentence_before_saying_what_is_shown():
    assert "超出了范围。下面显示的是最近 30 天。" in dashboard("zh-hans")


def test_the_out_of_range_message_reads_as_two_sentences_in_english():
    assert "is outside that range. Shown below: the last 30 days." in dashboard("en")
