import pytest
from django.test import Client

from kameng.accounts.models import User
from kameng.core.roles import Role
from tests.factories import PASSWORD, UserFactory, post_json

pytestmark = pytest.mark.django_db


def test_register_returns_201_and_hashes_the_password_with_argon2():
    response = post_json(
        Client(),
        "/api/v1/auth/register",
        {"username": "alice", "password": "Correct-Horse-42", "email": "a@example.com"},
    )
    assert response.status_code == 201
    assert response.json() == {"id": User.objects.get(username="alice").pk, "username": "alice"}
    assert User.objects.get(username="alice").password.startswith("argon2")


def test_register_refuses_a_taken_username_whatever_its_case():
    UserFactory(username="alice")
    response = post_json(
        Client(),
        "/api/v1/auth/register",
        {"username": "ALICE", "password": "Correct-Horse-42", "email": "b@example.com"},
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "username_taken"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"username": "bob", "password": "123", "email": "b@example.com"}, "weak_password"),
        ({"username": "bob", "password": "Correct-Horse-42", "email": "not-an-email"}, "bad_email"),
        (
            {"username": "bob smith!", "password": "Correct-Horse-42", "email": "b@example.com"},
            "bad_username",
        ),
        ({"username": "bob"}, "invalid"),
    ],
)
def test_register_refuses_bad_input_and_creates_nobody(body, code):
    response = post_json(Client(), "/api/v1/auth/register", body)
    assert 400 <= response.status_code < 500
    assert response.json()["error"]["code"] == code
    assert not User.objects.filter(username__startswith="bob").exists()


def test_token_for_good_credentials_authenticates_api_calls():
    UserFactory(username="carol")
    token = post_json(Client(), "/api/v1/auth/token", {"username": "carol", "password": PASSWORD}).json()[
        "token"
    ]
    response = Client().get("/api/v1/orders/K1", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404  # authenticated, and that order does not exist


def test_api_writes_without_a_token_get_401():
    response = post_json(Client(), "/api/v1/orders", {"sku": "x", "quantity": 1, "channel": "alipay"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_logins_are_throttled_after_five_failures_even_with_the_right_password():
    UserFactory(username="dave")
    for _ in range(5):
        bad = post_json(Client(), "/api/v1/auth/token", {"username": "dave", "password": "wrong"})
        assert bad.status_code == 401
    locked = post_json(Client(), "/api/v1/auth/token", {"username": "dave", "password": PASSWORD})
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "too_many_attempts"


def test_the_login_page_logs_in_and_the_throttle_applies_there_too():
    UserFactory(username="erin")
    client = Client()
    assert client.get("/accounts/login/").status_code == 200
    response = client.post("/accounts/login/", {"username": "erin", "password": PASSWORD, "next": "/orders/"})
    assert response.status_code == 302 and response["Location"] == "/orders/"
    for _ in range(5):
        Client().post("/accounts/login/", {"username": "erin", "password": "nope"})
    assert Client().post("/accounts/login/", {"username": "erin", "password": PASSWORD}).status_code == 429


def test_login_never_redirects_to_another_site():
    UserFactory(username="frank")
    response = Client().post(
        "/accounts/login/", {"username": "frank", "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_the_register_page_creates_a_member_and_logs_them_in():
    client = Client()
    response = client.post(
        "/accounts/register/", {"username": "gina", "email": "g@example.com", "password": "Correct-Horse-42"}
    )
    assert response.status_code == 302
    assert User.objects.get(username="gina").role == Role.MEMBER
    assert client.get("/orders/").status_code == 200


def test_members_cannot_enter_the_admin_and_operators_can():
    member, operator = UserFactory(), UserFactory(role=Role.OPERATOR)
    client = Client()
    client.force_login(member)
    assert client.get("/admin/").status_code == 302
    client.force_login(operator)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/catalog/product/").status_code == 200
    assert client.get("/admin/accounts/user/1/change/").status_code in (200, 302, 403, 404)


def test_support_sees_orders_but_cannot_edit_products():
    support = UserFactory(role=Role.SUPPORT)
    client = Client()
    client.force_login(support)
    assert client.get("/admin/orders/order/").status_code == 200
    assert client.get("/admin/catalog/product/add/").status_code == 403
