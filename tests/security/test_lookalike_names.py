"""Attacker-style: nobody registers a name that passes for a staff account's, through the API or the page, in any of
the usual disguises (another script's letters, full-width or styled forms, digits for letters, capitals)."""

import pytest
from django.test import Client

from kameng.accounts.models import User
from kameng.core.roles import Role
from tests.factories import PASSWORD, UserFactory, post_json

pytestmark = pytest.mark.django_db

DISGUISES = [
    "\u043eperator",  # Cyrillic о
    "ｏｐｅｒａｔｏｒ",  # full-width
    "𝗈𝗉𝖾𝗋𝖺𝗍𝗈𝗋",  # mathematical sans-serif
    "0perator",  # zero for O
    "OPERAT0R",
]


@pytest.mark.parametrize("name", DISGUISES)
def test_the_api_refuses_a_disguised_copy_of_the_operators_name(name):
    UserFactory(username="operator", role=Role.OPERATOR)
    response = post_json(
        Client(), "/api/v1/auth/register", {"username": name, "password": PASSWORD, "email": "x@example.com"}
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] in ("username_confusable", "username_taken")
    assert User.objects.count() == 1


@pytest.mark.parametrize("name", ["\u043eperator", "ｏｐｅｒａｔｏｒ", "0perator"])
def test_the_register_page_refuses_a_disguised_copy_of_the_operators_name(name):
    UserFactory(username="operator", role=Role.OPERATOR)
    response = Client().post(
        "/accounts/register/", {"username": name, "email": "x@example.com", "password": PASSWORD}
    )
    assert response.status_code == 409
    assert User.objects.count() == 1


def test_a_disguised_name_taken_first_keeps_the_plain_one_out_too():
    UserFactory(username="\u0430dmin")  # Cyrillic а
    response = post_json(
        Client(),
        "/api/v1/auth/register",
        {"username": "admin", "password": PASSWORD, "email": "a@example.com"},
    )
    assert response.json()["error"]["code"] == "username_confusable"
    assert not User.objects.filter(username="admin").exists()
