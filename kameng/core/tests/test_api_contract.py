import pytest
from django.test import Client

from kameng.orders.models import Order
from tests.factories import UserFactory, api_client, post_json, stocked_product

pytestmark = pytest.mark.django_db


def test_healthz_says_ok():
    assert Client().get("/healthz").json() == {"status": "ok"}


def test_the_openapi_schema_lists_the_shop_endpoints_and_the_docs_page_renders():
    schema = Client().get("/api/v1/openapi.json").json()
    for path in (
        "/api/v1/auth/register",
        "/api/v1/auth/token",
        "/api/v1/products",
        "/api/v1/orders",
        "/api/v1/orders/{order_no}",
    ):
        assert path in schema["paths"], path
    assert Client().get("/api/v1/docs").status_code == 200


def test_malformed_json_gets_a_400_with_the_error_envelope_and_changes_nothing():
    client = api_client(UserFactory())
    response = post_json(client, "/api/v1/orders", b"{not json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert Order.objects.count() == 0


def test_a_json_array_body_is_refused_as_malformed():
    response = post_json(api_client(UserFactory()), "/api/v1/orders", b"[1, 2]")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert Order.objects.count() == 0


def test_a_well_formed_body_with_a_field_of_the_wrong_type_is_a_422_naming_the_field():
    response = post_json(
        api_client(UserFactory()), "/api/v1/orders", {"sku": "x", "quantity": "1", "channel": "alipay"}
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert [d["field"] for d in error["details"]] == ["payload.quantity"]


def test_a_value_a_domain_rule_refuses_is_a_422_with_its_own_code():
    product = stocked_product(keys=3)
    body = {"sku": product.sku, "quantity": 0, "channel": "alipay"}
    response = post_json(api_client(UserFactory()), "/api/v1/orders", body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "bad_quantity"
    assert Order.objects.count() == 0


def test_a_refusal_speaks_chinese_by_default_and_english_when_asked():
    client = api_client(UserFactory())
    body = {"sku": "no-such-sku", "quantity": 1, "channel": "alipay"}
    zh = post_json(client, "/api/v1/orders", body)
    en = post_json(client, "/api/v1/orders", body, **{"Accept-Language": "en"})
    assert zh.status_code == en.status_code == 404
    assert zh.json()["error"] == {"code": "unknown_sku", "message": "没有编号为 no-such-sku 的商品"}
    assert en.json()["error"] == {"code": "unknown_sku", "message": "No product with SKU no-such-sku"}


def test_a_missing_token_is_a_401_in_the_envelope():
    response = Client().get("/api/v1/membership")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_the_same_idempotency_key_returns_the_same_order_and_creates_it_once():
    product = stocked_product(keys=3)
    client = api_client(UserFactory())
    body = {"sku": product.sku, "quantity": 1, "channel": "alipay"}
    first = post_json(client, "/api/v1/orders", body, **{"Idempotency-Key": "abc-1"})
    second = post_json(client, "/api/v1/orders", body, **{"Idempotency-Key": "abc-1"})
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert Order.objects.count() == 1


def test_reusing_an_idempotency_key_for_another_request_is_a_conflict():
    product = stocked_product(keys=3)
    client = api_client(UserFactory())
    post_json(
        client,
        "/api/v1/orders",
        {"sku": product.sku, "quantity": 1, "channel": "alipay"},
        **{"Idempotency-Key": "k"},
    )
    other = post_json(
        client,
        "/api/v1/orders",
        {"sku": product.sku, "quantity": 2, "channel": "alipay"},
        **{"Idempotency-Key": "k"},
    )
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1


def test_idempotency_keys_are_per_user():
    product = stocked_product(keys=3)
    body = {"sku": product.sku, "quantity": 1, "channel": "alipay"}
    a = post_json(api_client(UserFactory()), "/api/v1/orders", body, **{"Idempotency-Key": "same"})
    b = post_json(api_client(UserFactory()), "/api/v1/orders", body, **{"Idempotency-Key": "same"})
    assert a.json()["order_no"] != b.json()["order_no"]


def test_an_idempotent_refusal_is_answered_the_same_way_again():
    client = api_client(UserFactory())
    body = {"sku": "no-such-sku", "quantity": 1, "channel": "alipay"}
    first = post_json(client, "/api/v1/orders", body, **{"Idempotency-Key": "r"})
    again = post_json(client, "/api/v1/orders", body, **{"Idempotency-Key": "r"})
    assert first.status_code == again.status_code == 404
    assert first.json() == again.json()


def test_a_method_an_api_path_does_not_take_is_a_405_in_the_error_envelope():
    response = Client().delete("/api/v1/products", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 405
    assert response["Content-Type"].startswith("application/json")
    assert response["Allow"] == "GET"
    assert response.json()["error"] == {
        "code": "method_not_allowed",
        "message": "This address does not take DELETE requests",
    }


def test_a_page_keeps_djangos_own_405():
    response = Client().delete("/healthz")
    assert response.status_code == 405
    assert not response["Content-Type"].startswith("application/json")
