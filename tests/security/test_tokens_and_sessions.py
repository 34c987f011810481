"""Attacker-style: a member cannot revoke (or learn about) another member's tokens or sessions; a stolen token or
session dies with a password change; an expired or revoked token is refused; the revoke buttons need CSRF; asking
for tokens again and again cannot grow the token table or the account page without bound."""

import pytest
from django.test import Client

from kameng.accounts import services as accounts
from kameng.accounts.models import ApiToken, UserSession
from kameng.core import clock, sweeps
from kameng.core.models import AuditLog
from tests.factories import PASSWORD, UserFactory, advance_days, post_json

pytestmark = pytest.mark.django_db


def signed_in(username: str, **extra) -> Client:
    client = Client(**extra)
    assert client.post("/accounts/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return client


def api_works(token: str) -> bool:
    return (
        Client(headers={"Authorization": f"Bearer {token}"}).get("/api/v1/notifications").status_code == 200
    )


def test_another_members_token_id_is_404_and_the_token_keeps_working():
    victim = UserFactory(username="victim")
    UserFactory(username="mallory")
    token = accounts.issue_token(user=victim)
    row = ApiToken.objects.get(user=victim)
    response = signed_in("mallory").post(f"/accounts/tokens/{row.pk}/revoke/")
    assert response.status_code == 404
    assert api_works(token)
    row.refresh_from_db()
    assert row.revoked_at is None


def test_another_members_session_id_is_404_and_the_session_stays_signed_in():
    UserFactory(username="victim")
    UserFactory(username="mallory")
    victims_browser = signed_in("victim")
    row = UserSession.objects.get(session_key=victims_browser.session.session_key)
    response = signed_in("mallory").post(f"/accounts/sessions/{row.pk}/revoke/")
    assert response.status_code == 404
    assert victims_browser.get("/accounts/").status_code == 200
    assert UserSession.objects.filter(pk=row.pk).exists()


def test_the_account_page_shows_none_of_another_members_tokens_or_sessions():
    victim = UserFactory(username="victim")
    UserFactory(username="mallory")
    signed_in("victim", headers={"User-Agent": "victims-browser/1"})
    accounts.issue_token(user=victim, user_agent="victims-cli/1")
    html = signed_in("mallory").get("/accounts/").content.decode()
    assert "victims-browser" not in html and "victims-cli" not in html


def test_the_revoke_buttons_need_the_csrf_token():
    user = UserFactory(username="kim")
    token = accounts.issue_token(user=user)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    row = ApiToken.objects.get(user=user)
    assert client.post(f"/accounts/tokens/{row.pk}/revoke/").status_code == 403
    assert api_works(token)
    client.get("/accounts/")  # records the session
    session = UserSession.objects.get(user=user)
    assert client.post(f"/accounts/sessions/{session.pk}/revoke/").status_code == 403
    assert client.post("/accounts/password/", {"old_password": PASSWORD}).status_code == 403


def test_a_stolen_token_and_session_die_when_the_owner_changes_the_password():
    UserFactory(username="owner")
    thief = signed_in("owner")
    stolen = (
        Client()
        .post(
            "/api/v1/auth/token", {"username": "owner", "password": PASSWORD}, content_type="application/json"
        )
        .json()["token"]
    )
    owner = signed_in("owner")
    owner.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": "A-new-Horse-43", "new_password2": "A-new-Horse-43"},
    )
    refused = Client(headers={"Authorization": f"Bearer {stolen}"}).get("/api/v1/notifications")
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "token_revoked")
    assert thief.get("/accounts/").status_code == 302


def test_a_token_left_unused_for_a_month_no_longer_opens_the_account():
    token = accounts.issue_token(user=UserFactory())
    advance_days(31)
    refused = Client(headers={"Authorization": f"Bearer {token}"}).get("/api/v1/orders/K1")
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "token_expired")


def test_a_revoked_token_cannot_revoke_itself_again_or_anything_else():
    token = accounts.issue_token(user=UserFactory())
    bearer = Client(headers={"Authorization": f"Bearer {token}"})
    assert bearer.delete("/api/v1/auth/token").status_code == 204
    again = bearer.delete("/api/v1/auth/token")
    assert (again.status_code, again.json()["error"]["code"]) == (401, "token_revoked")


# Tokens per user: every successful POST /api/v1/auth/token made a token, and nothing ever deleted one.


def _new_token(username: str) -> str:
    answer = post_json(Client(), "/api/v1/auth/token", {"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.content
    return answer.json()["token"]


def _refusal(token: str) -> str | None:
    answer = Client(headers={"Authorization": f"Bearer {token}"}).get("/api/v1/notifications")
    return None if answer.status_code == 200 else answer.json()["error"]["code"]


def test_a_token_past_the_limit_revokes_the_one_used_least_recently(settings):
    settings.KAMENG_API_TOKENS_PER_USER = 3
    user = UserFactory(username="busy")
    first, second, third = (_new_token("busy") for _ in range(3))
    clock.advance(seconds=2 * 3600)  # a use is recorded when the last record is an hour old
    assert _refusal(first) is None  # first is now the most recently used
    fourth = _new_token("busy")
    assert [_refusal(t) for t in (first, second, third, fourth)] == [None, "token_revoked", None, None]
    assert ApiToken.objects.filter(user=user).active().count() == 3
    revoked = AuditLog.objects.get(action="token.revoked")
    assert revoked.data["reason"] == "too_many_tokens"
    assert revoked.data["prefix"] == second[:8]


def test_asking_for_tokens_in_a_loop_keeps_the_users_rows_bounded(settings):
    settings.KAMENG_API_TOKENS_PER_USER = 3
    user = UserFactory(username="looper")
    for _ in range(10):
        _new_token("looper")
    assert ApiToken.objects.filter(user=user).active().count() == 3
    assert ApiToken.objects.filter(user=user).count() <= 6  # 3 live, the 3 that ended last


def test_the_account_page_lists_no_more_tokens_than_the_limit(settings):
    settings.KAMENG_API_TOKENS_PER_USER = 3
    UserFactory(username="lister")
    tokens = [_new_token("lister") for _ in range(5)]
    listed = signed_in("lister").get("/accounts/").context["tokens"]
    assert sorted(t.prefix for t in listed) == sorted(t[:8] for t in tokens[2:])


def test_tokens_ended_longer_ago_than_the_retention_are_deleted_and_the_audit_still_names_them():
    user = UserFactory(username="leaver")
    revoked, unused = _new_token("leaver"), _new_token("leaver")
    assert (
        Client(headers={"Authorization": f"Bearer {revoked}"}).delete("/api/v1/auth/token").status_code == 204
    )
    advance_days(31)  # revoked 31 days ago; unused expired 1 day ago (30 days after its last use)
    assert sweeps.run_due_sweeps()["forget_ended_tokens"] == 1
    assert [_refusal(revoked), _refusal(unused)] == ["unauthorized", "token_expired"]
    advance_days(30)
    assert sweeps.run_due_sweeps()["forget_ended_tokens"] == 1
    assert not ApiToken.objects.filter(user=user).exists()
    issued = AuditLog.objects.filter(action="token.issued", actor=user)
    assert {row.data["prefix"] for row in issued} == {revoked[:8], unused[:8]}
    assert AuditLog.objects.get(action="token.revoked").data["prefix"] == revoked[:8]


def test_the_retention_of_ended_tokens_is_a_setting(settings):
    settings.KAMENG_API_TOKEN_RETENTION_DAYS = 2
    token = _new_token(UserFactory(username="brief").username)
    Client(headers={"Authorization": f"Bearer {token}"}).delete("/api/v1/auth/token")
    advance_days(1.5)
    sweeps.run_due_sweeps()
    assert _refusal(token) == "token_revoked"
    advance_days(1)
    sweeps.run_due_sweeps()
    assert _refusal(token) == "unauthorized"
