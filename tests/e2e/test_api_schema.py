"""Schemathesis against the OpenAPI schema, in process: whatever it sends, the API never answers 5xx."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from config.wsgi import application
from kameng.accounts import services as accounts
from tests.factories import PlanFactory, UserFactory, join_vip, stocked_product

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


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
def test_no_request_gets_a_server_error(case, token):
    # Called straight through WSGI, Django would close the test's database connection when the response ends;
    # the test Client switches that off the same way (and switches it back on after each of its requests).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        response = case.call(headers={"Authorization": f"Bearer {token}"})
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    case.validate_response(response, checks=[not_a_server_error])
