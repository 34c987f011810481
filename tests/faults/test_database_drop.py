"""PostgreSQL drops the connection in the middle of a request's transaction: the request fails cleanly (503, nothing
written, no key held) and the same request sent again succeeds."""

import psycopg
import pytest
from django.db import connection

from kameng.inventory.models import CardKey
from kameng.orders.models import Order
from tests.factories import UserFactory, api_client, post_json, stocked_product

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _terminate(backend_pid: int) -> None:
    """Kills the server process behind our connection, from another connection, as a failover or restart would."""
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"], autocommit=True
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [backend_pid])


def test_a_connection_dropped_mid_order_fails_cleanly_and_the_retry_succeeds():
    product = stocked_product(keys=1)
    client = api_client(UserFactory())
    dropped: list[int] = []

    def drop_before_the_order_row(execute, sql, params, many, context):
        if sql.startswith('INSERT INTO "orders_order"') and not dropped:
            dropped.append(connection.connection.info.backend_pid)
            _terminate(dropped[0])  # the keys are already reserved in this transaction
        return execute(sql, params, many, context)

    order = {"sku": product.sku, "quantity": 1, "channel": "alipay"}
    with connection.execute_wrapper(drop_before_the_order_row):
        failed = post_json(client, "/api/v1/orders", order, **{"Idempotency-Key": "buy-1"})

    assert dropped, "the connection was never dropped"
    assert failed.status_code == 503 and failed["Retry-After"] == "1"
    assert failed.json()["error"]["code"] == "database_unavailable"
    assert Order.objects.count() == 0
    assert CardKey.objects.filter(status=CardKey.Status.AVAILABLE).count() == 1

    retried = post_json(client, "/api/v1/orders", order, **{"Idempotency-Key": "buy-1"})
    assert retried.status_code == 201, retried.content
    assert Order.objects.count() == 1
    assert CardKey.objects.filter(status=CardKey.Status.RESERVED).count() == 1
