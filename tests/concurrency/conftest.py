import os

import pytest
from django.db import connection


@pytest.fixture(autouse=True)
def _require_postgres(request):
    """Row locks and SKIP LOCKED are only real on PostgreSQL; in CI these tests must run, never skip."""
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the PostgreSQL tests: set DATABASE_URL to a PostgreSQL database")
        pytest.skip("needs PostgreSQL (set DATABASE_URL=postgres://…)")
