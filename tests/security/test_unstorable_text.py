"""Text JSON can spell but nothing downstream can store: a lone surrogate (`"\\ud800"`) decodes to a Python string
that UTF-8 cannot encode, so the database driver and Argon2 raise. Such a body is refused at the door, 400
`malformed_json`, on every JSON endpoint, before any count, row or hash is written."""

import json

import pytest
from django.test import Client

from kameng.accounts.models import LoginCounter, LoginFailure, User
from tests.factories import UserFactory

LONE_SURROGATE = '"\\ud800"'  # JSON text: the escape itself, not a character


def _post_raw(path: str, body: str, client: Client | None = None):
    return (client or Client()).post(path, body, content_type="application/json")


@pytest.mark.django_db
def test_a_lone_surrogate_user_name_at_token_is_refused_and_counts_nothing():
    answer = _post_raw("/api/v1/auth/token", '{"username": ' + LONE_SURROGATE + ', "password": "x"}')
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "malformed_json"
    assert not LoginCounter.objects.exists() and not LoginFailure.objects.exists()


@pytest.mark.django_db
def test_a_lone_surrogate_password_at_token_is_refused():
    user = UserFactory()
    answer = _post_raw("/api/v1/auth/token", json.dumps({"username": user.username, "password": "\ud800"}))
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "malformed_json"


@pytest.mark.django_db
def test_a_lone_surrogate_at_registration_creates_no_account():
    body = '{"username": "mallory", "password": ' + LONE_SURROGATE + ', "email": "m@example.com"}'
    answer = _post_raw("/api/v1/auth/register", body)
    assert answer.status_code == 400
    assert not User.objects.filter(username="mallory").exists()


@pytest.mark.django_db
def test_a_lone_surrogate_in_a_nested_value_is_refused():
    answer = _post_raw(
        "/api/v1/auth/token", '{"username": "a", "password": "b", "x": [{"y": ' + LONE_SURROGATE + "}]}"
    )
    assert answer.status_code == 400
