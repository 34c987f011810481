"""API tokens expire unless used, slide with use (one write an hour at most), are revoked by DELETE /auth/token and
by every kind of password change; one user holds at most KAMENG_API_TOKENS_PER_USER live ones, even asked at once."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from kameng.accounts import services as accounts
from kameng.accounts.models import ApiToken
from kameng.core import clock
from tests.factories import PASSWORD, UserFactory, advance_days, post_json

pytestmark = pytest.mark.django_db

HOUR = 3600


def bearer(token: str, **headers) -> Client:
    return Client(headers={"Authorization": f"Bearer {token}", **headers})


def works(token: str) -> bool:
    return bearer(token).get("/api/v1/notifications").status_code == 200


def token_writes(queries) -> int:
    return sum(1 for q in queries if q["sql"].startswith("UPDATE") and "accounts_apitoken" in q["sql"])


def test_a_token_unused_for_30_days_is_refused_as_expired():
    token = accounts.issue_token(user=UserFactory())
    advance_days(30)
    clock.advance(seconds=1)
    response = bearer(token).get("/api/v1/notifications")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_expired"
    assert "POST /api/v1/auth/token" in response.json()["error"]["message"]


def test_an_expired_token_is_refused_in_english_when_asked():
    token = accounts.issue_token(user=UserFactory())
    advance_days(31)
    response = bearer(token, **{"Accept-Language": "en"}).get("/api/v1/notifications")
    assert response.json()["error"]["message"].startswith("This token has expired")


def test_a_token_used_every_20_days_keeps_working_past_30_days():
    token = accounts.issue_token(user=UserFactory())
    for _ in range(5):
        advance_days(20)
        assert works(token)


def test_a_token_used_all_day_is_written_at_most_once_an_hour():
    token = accounts.issue_token(user=UserFactory())
    row = ApiToken.objects.get()
    with CaptureQueriesContext(connection) as first_hour:
        for _ in range(10):
            assert works(token)
            clock.advance(seconds=300)  # 50 minutes of requests, all within the hour it was issued
    assert token_writes(first_hour.captured_queries) == 0

    clock.advance(seconds=HOUR)
    with CaptureQueriesContext(connection) as next_hour:
        for _ in range(10):
            assert works(token)
            clock.advance(seconds=60)
    assert token_writes(next_hour.captured_queries) == 1
    row.refresh_from_db()
    assert row.expires_at - row.last_used_at == timedelta(days=30)
    assert row.last_used_at > row.created_at + timedelta(minutes=50)


def test_a_request_with_a_live_token_costs_one_query_to_authenticate():
    user = UserFactory()
    token = accounts.issue_token(user=user)
    with CaptureQueriesContext(connection) as signed_in:
        assert works(token)
    token_reads = [q for q in signed_in.captured_queries if "accounts_apitoken" in q["sql"]]
    assert len(token_reads) == 1 and token_reads[0]["sql"].startswith("SELECT")


def test_delete_auth_token_revokes_the_token_used_and_no_other():
    user = UserFactory()
    used, other = accounts.issue_token(user=user), accounts.issue_token(user=user)
    response = bearer(used).delete("/api/v1/auth/token")
    assert response.status_code == 204
    assert response.content == b""
    refused = bearer(used).get("/api/v1/notifications")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "token_revoked"
    assert works(other)


def test_delete_auth_token_without_a_token_is_401():
    response = Client().delete("/api/v1/auth/token")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_a_token_from_the_api_records_where_it_was_issued():
    UserFactory(username="hana")
    client = Client(headers={"User-Agent": "kameng-cli/1.0"}, REMOTE_ADDR="203.0.113.9")
    post_json(client, "/api/v1/auth/token", {"username": "hana", "password": PASSWORD})
    row = ApiToken.objects.get()
    assert (row.ip, row.user_agent) == ("203.0.113.9", "kameng-cli/1.0")


def test_changing_the_password_with_set_password_revokes_every_token():
    user = UserFactory()
    tokens = [accounts.issue_token(user=user) for _ in range(3)]
    user.set_password("A-new-Horse-43")
    user.save()
    assert not any(works(t) for t in tokens)
    assert ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() == 0


def test_manage_py_changepassword_revokes_every_token(monkeypatch):
    user = UserFactory(username="ivan")
    token = accounts.issue_token(user=user)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "A-new-Horse-43")
    call_command("changepassword", "ivan", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert not works(token)


def test_a_password_change_leaves_other_members_tokens_alone():
    user, other = UserFactory(), UserFactory()
    theirs = accounts.issue_token(user=other)
    user.set_password("A-new-Horse-43")
    user.save()
    assert works(theirs)


def test_a_login_that_upgrades_the_password_hash_revokes_nothing(settings):
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    user = UserFactory(username="jun", password=make_password(PASSWORD, hasher="md5"))
    token = accounts.issue_token(user=user)
    assert (
        post_json(Client(), "/api/v1/auth/token", {"username": "jun", "password": PASSWORD}).status_code
        == 200
    )
    user.refresh_from_db()
    assert user.password.startswith("pbkdf2")  # upgraded at login: not a password change
    assert works(token)


def test_an_inactive_users_token_is_unauthorized():
    user = UserFactory()
    token = accounts.issue_token(user=user)
    user.is_active = False
    user.save()
    assert bearer(token).get("/api/v1/notifications").json()["error"]["code"] == "unauthorized"


def test_the_openapi_document_declares_token_revocation_and_its_refusals():
    document = Client().get("/api/v1/openapi.json").json()
    revoke = document["paths"]["/api/v1/auth/token"]["delete"]["responses"]
    assert set(revoke) == {"204", "401"}
    assert revoke["401"]["x-error-codes"] == ["unauthorized", "token_expired", "token_revoked"]
    signed_in = document["paths"]["/api/v1/notifications"]["get"]["responses"]["401"]["x-error-codes"]
    assert {"token_expired", "token_revoked"} <= set(signed_in)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_tokens_issued_at_once_never_leave_more_live_than_the_limit(settings):
    settings.KAMENG_API_TOKENS_PER_USER = 3
    user = UserFactory()
    for _ in range(3):
        accounts.issue_token(user=user)
    start = threading.Barrier(8)

    def issue(_):
        try:
            start.wait(timeout=10)
            return accounts.issue_token(user=user)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        issued = list(pool.map(issue, range(8)))
    assert len(set(issued)) == 8
    assert ApiToken.objects.filter(user=user).active().count() == 3
