"""Test set-up shared by every app: in-process HTTP between shop and sandbox, eager Celery, balanced ledger."""

import pytest
from django.db import connection

from config.celery import app as celery_app
from kameng.core import clock


@pytest.fixture(autouse=True)
def _in_process(settings):
    settings.KAMENG_HTTP_INPROCESS = True
    settings.KAMENG_SANDBOX = True
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    clock.forget_cached_offset()  # each test's database starts with the clock at zero offset


@pytest.fixture(autouse=True)
def _ledger_balances(request):
    """After every test that touched the database, the ledger sums to zero and so does each entry."""
    yield
    if not {"db", "transactional_db"} & set(request.fixturenames):
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(SUM(amount_fen), 0) FROM payments_ledgerline")
        assert cursor.fetchone()[0] == 0, "ledger does not sum to zero"
        cursor.execute(
            "SELECT entry_id FROM payments_ledgerline GROUP BY entry_id HAVING SUM(amount_fen) <> 0"
        )
        assert cursor.fetchall() == [], "an unbalanced ledger entry exists"
