import pytest
from django.db import connection


@pytest.fixture
def sqlite_suite():
    """The SQLite backup path runs in the SQLite suite; the PostgreSQL suite covers pg_dump instead."""
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite backup path runs in the SQLite suite")
