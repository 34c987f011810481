"""A ticket form refused with a screenshot attached says the problem and that the text was kept as two sentences,
zh and en."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def refused_ticket_page(language: str) -> str:
    client = Client()
    client.force_login(UserFactory())
    client.cookies["django_language"] = language
    not_an_image = SimpleUploadedFile("notes.png", b"plain text, not a picture", content_type="image/png")
    page = client.post(
        "/support/tickets/new/", {"category": "other", "reason": "看图", "screenshot": not_an_image}
    )
    assert page.status_code == 422
    return page.content.decode()


def test_the_refusal_and_the_kept_text_note_are_two_sentences():
    assert "截图须为 PNG、JPEG 或 WebP 图片。你写的内容还在下面;截图需要重新选择。" in refused_ticket_page(
        "zh-hans"
    )


def test_the_refusal_and_the_kept_text_note_are_two_sentences_in_english():
    assert (
        "The screenshot must be a PNG, JPEG or WebP image. What you wrote is still below; "
        "please choose the screenshot again." in refused_ticket_page("en")
    )
