"""The account page lists the member's signed-in browsers and API tokens, revokes either (their own only), and changes
the password, which signs every other browser out and revokes every token."""

import pytest
from django.test import Client

from kameng.accounts import services as accounts
from kameng.accounts.models import ApiToken, UserSession
from kameng.core.models import AuditLog
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "A-new-Horse-43"


def signed_in(
    username: str, agent: str = "Mozilla/5.0 (iPhone) Safari/604.1", ip: str = "198.51.100.7"
) -> Client:
    client = Client(headers={"User-Agent": agent}, REMOTE_ADDR=ip)
    response = client.post("/accounts/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def is_signed_in(client: Client) -> bool:
    return client.get("/accounts/").status_code == 200


def api_works(token: str) -> bool:
    return (
        Client(headers={"Authorization": f"Bearer {token}"}).get("/api/v1/notifications").status_code == 200
    )


def test_the_account_page_lists_sessions_and_tokens_and_marks_this_device():
    user = UserFactory(username="kai")
    phone, laptop = (
        signed_in("kai"),
        signed_in("kai", agent="Mozilla/5.0 (X11; Linux) Firefox/140.0", ip="192.0.2.4"),
    )
    accounts.issue_token(user=user, ip="203.0.113.5", user_agent="kameng-cli/1.0")
    page = laptop.get("/accounts/")
    assert page.status_code == 200
    listed = page.context["sessions"]
    assert {(s.ip, s.user_agent) for s in listed} == {
        ("198.51.100.7", "Mozilla/5.0 (iPhone) Safari/604.1"),
        ("192.0.2.4", "Mozilla/5.0 (X11; Linux) Firefox/140.0"),
    }
    html = page.content.decode()
    assert html.count('class="this-device"') == 1
    assert (
        "Firefox/140.0" in html
        and "Safari/604.1" in html
        and "kameng-cli/1.0" in html
        and "203.0.113.5" in html
    )
    current = next(s for s in listed if s.session_key == laptop.session.session_key)
    assert current.user_agent.endswith("Firefox/140.0")
    assert (
        phone.session.session_key not in html and laptop.session.session_key not in html
    )  # keys never shown


def test_the_account_page_needs_a_login():
    response = Client().get("/accounts/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_revoking_another_browser_signs_it_out_and_leaves_this_one():
    UserFactory(username="lea")
    phone, laptop = signed_in("lea"), signed_in("lea")
    phone_row = UserSession.objects.get(session_key=phone.session.session_key)
    response = laptop.post(f"/accounts/sessions/{phone_row.pk}/revoke/")
    assert response.status_code == 302 and response["Location"] == "/accounts/"
    assert not is_signed_in(phone)
    assert is_signed_in(laptop)
    assert AuditLog.objects.filter(action="session.revoked", object_id=str(phone_row.pk)).exists()


def test_revoking_this_browser_signs_it_out():
    UserFactory(username="mia")
    laptop = signed_in("mia")
    row = UserSession.objects.get(session_key=laptop.session.session_key)
    assert laptop.post(f"/accounts/sessions/{row.pk}/revoke/")["Location"] == "/"
    assert not is_signed_in(laptop)
    assert not UserSession.objects.exists()


def test_revoking_a_token_on_the_page_stops_it_and_no_other():
    user = UserFactory(username="nia")
    revoked, kept = accounts.issue_token(user=user), accounts.issue_token(user=user)
    row = ApiToken.objects.get(prefix=revoked[:8])
    response = signed_in("nia").post(f"/accounts/tokens/{row.pk}/revoke/")
    assert response.status_code == 302
    assert not api_works(revoked)
    assert api_works(kept)


def test_logging_out_of_the_site_ends_this_session_only():
    user = UserFactory(username="oli")
    phone, laptop = signed_in("oli"), signed_in("oli")
    token = accounts.issue_token(user=user)
    laptop.post("/accounts/logout/")
    assert not is_signed_in(laptop)
    assert is_signed_in(phone)
    assert api_works(token)
    assert list(UserSession.objects.values_list("session_key", flat=True)) == [phone.session.session_key]


def test_changing_the_password_on_the_page_keeps_this_browser_and_ends_the_rest():
    user = UserFactory(username="pia")
    phone, laptop = signed_in("pia"), signed_in("pia")
    token = accounts.issue_token(user=user)
    response = laptop.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/"
    assert is_signed_in(laptop)
    assert not is_signed_in(phone)
    assert not api_works(token)
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    listed = laptop.get("/accounts/").context["sessions"]
    assert [s.session_key for s in listed] == [laptop.session.session_key]
    assert AuditLog.objects.filter(action="credentials.revoked", object_id=str(user.pk)).exists()


def test_a_wrong_old_password_changes_nothing():
    user = UserFactory(username="qiu")
    laptop = signed_in("qiu")
    token = accounts.issue_token(user=user)
    response = laptop.post(
        "/accounts/password/",
        {"old_password": "not-it", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 400
    assert api_works(token)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_the_page_reads_in_english_when_asked():
    UserFactory(username="rui")
    client = signed_in("rui")
    client.cookies["django_language"] = "en"
    html = client.get("/accounts/").content.decode()
    assert "Signed-in devices" in html and "API tokens" in html and "This device" in html
