"""The error-code catalogue: one status per code, a message in both languages, every code the API document lists
is in the catalogue with the status it is listed under, and docs/api.md lists them all."""

import re
from pathlib import Path

import pytest
from django.test import Client
from django.utils import translation

from kameng.core.errors import ErrorCode, catalogue
from kameng.orders.models import Order
from tests.factories import UserFactory, stocked_product

DOC = Path(__file__).resolve().parents[3] / "docs" / "api.md"


def _params(code: ErrorCode) -> dict:
    return {name: "x" for name in re.findall(r"%\((\w+)\)s", str(code.template))}


def test_a_code_has_one_status_wherever_it_is_raised():
    statuses: dict[str, set[int]] = {}
    for code in catalogue():
        statuses.setdefault(code.value, set()).add(code.status)
    assert {value: s for value, s in statuses.items() if len(s) > 1} == {}


@pytest.mark.parametrize(
    "code", [c for c in catalogue() if c.__class__.__name__ != "SandboxErrorCode"], ids=str
)
def test_every_shop_message_reads_in_chinese_and_in_english(code):
    with translation.override("zh-hans"):
        chinese = code.render(**_params(code))
    with translation.override("en"):
        english = code.render(**_params(code))
    assert re.search(r"[\u4e00-\u9fff]", chinese), chinese
    assert english != chinese and not re.search(r"[\u4e00-\u9fff]", english), english


def test_the_api_document_lists_only_catalogued_codes_under_their_own_status():
    by_value = {c.value: c.status for c in catalogue()}
    schema = Client().get("/api/v1/openapi.json").json()
    misplaced = [
        (path, method, status, value)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        for status, answer in operation["responses"].items()
        for value in answer.get("x-error-codes", [])
        if by_value.get(value) != int(status)
    ]
    assert misplaced == []


def test_every_endpoint_declares_the_refusals_its_kind_can_meet():
    schema = Client().get("/api/v1/openapi.json").json()
    missing = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = {v for answer in operation["responses"].values() for v in answer.get("x-error-codes", [])}
            needed = set()
            if operation.get("security"):
                needed.add("unauthorized")
            if "requestBody" in operation:
                needed |= {"malformed_json", "malformed_body", "invalid"}
            if operation.get("parameters"):
                needed |= {"nul_character"}
            if needed - codes:
                missing.append((method, path, sorted(needed - codes)))
    assert missing == []


def test_docs_api_md_lists_every_code_with_its_status():
    doc = DOC.read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `([A-Za-z0-9_]+)` \| (\d{3}) \|", doc, flags=re.MULTILINE))
    assert {(c.value, str(c.status)) for c in catalogue()} <= rows


@pytest.mark.django_db
def test_a_page_shows_a_refusal_with_its_status_in_the_readers_language():
    product = stocked_product(keys=1)
    form = {"sku": product.sku, "quantity": "0", "channel": "alipay"}
    for language, text, back in (
        ("zh-hans", "数量须为 1 到", '<a href="/">返回首页</a>'),
        ("en", "Quantity must be a whole number from 1 to", '<a href="/">Back to the shop</a>'),
    ):
        client = Client(headers={"Accept-Language": language})
        client.force_login(UserFactory())
        page = client.post("/orders/checkout/", form)
        assert page.status_code == 422
        html = page.content.decode()
        assert text in html and back in html  # inside the site's layout, with the way back
        assert 'class="error" role="alert"' in html
    assert not Order.objects.exists()
