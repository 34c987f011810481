import os

import pytest
from django.db import connection


@pytest.fixture(autouse=True)
def _require_postgres(request):
    """pg_dump and pg_restore are only exercised on PostgreSQL; in CI these tests must run, never skip."""
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the PostgreSQL tests: set DATABASE_URL to a PostgreSQL database")
        pytest.skip("needs PostgreSQL (set DATABASE_URL=postgres://…)")


@pytest.fixture
def sqlite_suite():
    """The SQLite backup path runs in the SQLite suite; the PostgreSQL suite covers pg_dump instead."""
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite backup path runs in the SQLite suite")
