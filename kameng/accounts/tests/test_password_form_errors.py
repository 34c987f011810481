"""A refused password change lands the member on the password form (far down the account page) with a notice at its
top, in Chinese and English, whatever was wrong: the old password, the repeat, or a weak new one."""

import re

import pytest
from django.test import Client

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "A-new-Horse-43"
REFUSALS = {
    "wrong_old": {"old_password": "not-it", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    "mismatch": {
        "old_password": PASSWORD,
        "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD + "y",
    },
    "weak": {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"},
}


def signed_in(username: str, language: str = "zh-hans") -> Client:
    client = Client()
    client.cookies["django_language"] = language
    assert client.post("/accounts/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return client


def password_form(html: str) -> str:
    """The password form's markup, from its opening tag to its end."""
    match = re.search(r'<form[^>]*action="/accounts/password/#password".*?</form>', html, re.S)
    assert match, "the password form posts to an address that lands on the form"
    return match.group(0)


@pytest.mark.parametrize("refusal", REFUSALS)
def test_a_refused_password_change_lands_on_the_form_with_a_notice_at_its_top(refusal):
    UserFactory(username="qiu")
    response = signed_in("qiu").post("/accounts/password/", REFUSALS[refusal])
    assert response.status_code == 400
    form = password_form(response.content.decode())
    notice = form.index("密码没有修改,请按下面标出的提示改正后再提交。")
    assert notice < form.index('name="old_password"')
    assert 'role="alert"' in form


def test_the_refusal_notice_reads_in_english():
    UserFactory(username="rui")
    response = signed_in("rui", "en").post("/accounts/password/", REFUSALS["wrong_old"])
    form = password_form(response.content.decode())
    assert "The password was not changed. Correct what is marked below and submit again." in form


def test_the_untouched_account_page_shows_no_password_notice():
    UserFactory(username="sun")
    html = signed_in("sun").get("/accounts/").content.decode()
    assert "密码没有修改" not in html
