"""The test clock moves every process at once (docs/architecture.md, the test clock): once
`POST /api/v1/sandbox/clock` has answered in one process, the very next request in another process runs at the new
time. Two processes: gunicorn (the shop as `make run` serves it) and this test process, each taking its turn."""

import json
import urllib.request
from datetime import datetime, timedelta

import pytest

from kameng.accounts import services as accounts
from kameng.core.roles import Role
from tests.factories import UserFactory, api_client, post_json, stocked_product

pytestmark = [pytest.mark.postgres]
WEEK = 7 * 86400


def _over_http(base: str, path: str, body: dict, token: str) -> dict:
    request = urllib.request.Request(  # noqa: S310 (loopback)
        f"{base}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
        return json.loads(reply.read())


def _order_expiry(answer: dict) -> datetime:
    return datetime.fromisoformat(answer["expires_at"])


def test_a_clock_moved_here_is_seen_by_the_very_next_request_to_gunicorn(gunicorn_server):
    product, buyer = stocked_product(keys=3), accounts.issue_token(user=UserFactory())
    order = {"sku": product.sku, "quantity": 1, "channel": "alipay"}
    before = _order_expiry(
        _over_http(gunicorn_server, "/api/v1/orders", order, buyer)
    )  # gunicorn read the clock
    moved = post_json(
        api_client(UserFactory(role=Role.OPERATOR)), "/api/v1/sandbox/clock", {"advance_seconds": WEEK}
    )
    assert moved.status_code == 200, moved.content
    after = _order_expiry(_over_http(gunicorn_server, "/api/v1/orders", order, buyer))
    assert after - before >= timedelta(seconds=WEEK)


def test_a_clock_moved_through_gunicorn_is_seen_by_the_very_next_request_here(gunicorn_server):
    product, buyer = stocked_product(keys=3), api_client(UserFactory())
    order = {"sku": product.sku, "quantity": 1, "channel": "alipay"}
    before = _order_expiry(post_json(buyer, "/api/v1/orders", order).json())  # this process read the clock
    staff = accounts.issue_token(user=UserFactory(role=Role.OPERATOR))
    _over_http(gunicorn_server, "/api/v1/sandbox/clock", {"advance_seconds": WEEK}, staff)
    after = _order_expiry(post_json(buyer, "/api/v1/orders", order).json())
    assert after - before >= timedelta(seconds=WEEK)
