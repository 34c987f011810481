"""Schemathesis against the OpenAPI schema, in process: whatever it sends, valid or not, the API answers with a status
the document declares for that endpoint, a body that matches the declared schema and content type, and for a refusal
an error code the document lists for that status (`x-error-codes`). Never a 5xx."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    is_unexpected_http_status_case,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from kameng.accounts import services as accounts
from tests.factories import PlanFactory, UserFactory, join_vip, stocked_product

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


def error_code_is_declared(ctx, response, case) -> None:
    """A refusal's code is one the document promises for that status: clients may switch on the list."""
    if response.status_code < 400 or is_unexpected_http_status_case(case):
        return  # a method the path does not have: 405 method_not_allowed, which no endpoint can declare
    declared = case.operation.definition.raw["responses"].get(str(response.status_code), {})
    code = response.json()["error"]["code"]
    codes = declared.get("x-error-codes", [])
    assert code in codes, (
        f"{case.operation.label} answered {response.status_code} `{code}`, declared: {codes}"
    )


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    error_code_is_declared,
]


@pytest.fixture
def token(db):
    """A member with a membership and stock to buy, so the fuzzer reaches past the 404s."""
    user = UserFactory()
    join_vip(user, PlanFactory(code="vip-month"), auto_renew=True)
    stocked_product(sku="qq-coins-30", keys=20)
    return accounts.issue_token(user=user)


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_conforms_to_the_document(case, token):
    # Called straight through WSGI, Django would close the test's database connection when the response ends;
    # the test Client switches that off the same way (and switches it back on after each of its requests).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        response = case.call(headers={"Authorization": f"Bearer {token}"})
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    case.validate_response(response, checks=CHECKS)
