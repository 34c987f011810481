"""Test set-up shared by every app: eager Celery, the invariant net, PostgreSQL and Redis where required.

What a test run configures (in-process HTTP, the sandbox, eager tasks, fixed secrets) is in config/settings/test.py.
The invariant net (tests/invariant_net.py): after every test that touched the database, the shop's data keeps its
promises.
"""

import os

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app as celery_app
from kameng.core import clock

pytest_plugins = [
    "pytester",  # the net's own test runs a suite
    "tests.invariant_net",
    "tests.browser.fixtures",  # one Chromium for every folder with page tests
]


@pytest.fixture(autouse=True)
def _fresh_process_state():
    # Celery's configuration outlives a test that points tasks at a real worker; the settings fixture does not
    # restore it.
    celery_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER
    celery_app.conf.task_eager_propagates = settings.CELERY_TASK_EAGER_PROPAGATES
    clock.forget_cached_offset()  # each test's database starts with the clock at zero offset


@pytest.fixture(autouse=True)
def _require_postgres(request):
    """Row locks, SKIP LOCKED and pg_dump are only real on PostgreSQL; in CI these tests must run, never skip."""
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the PostgreSQL tests: set DATABASE_URL to a PostgreSQL database")
        pytest.skip("needs PostgreSQL (set DATABASE_URL=postgres://…)")


@pytest.fixture
def redis_broker() -> str:
    """An emptied Redis database for tests with a real Celery worker (on PostgreSQL, which the worker shares)."""
    url = os.environ.get("CELERY_BROKER_URL", "")
    if not url.startswith("redis://") or connection.vendor != "postgresql":
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the Celery worker tests on Redis and PostgreSQL")
        pytest.skip("needs CELERY_BROKER_URL=redis://… and DATABASE_URL=postgres://…")
    import redis

    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def worker_database_url() -> str:
    """DATABASE_URL naming the test database (pytest-django's own name), for a worker started as a subprocess."""
    return os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]


@pytest.fixture
def kameng_process_env(settings) -> dict[str, str]:
    """The environment of a Kameng process a test starts (a Celery worker, manage.py): the deployed settings, not the
    test settings, with this run's secrets and instance folder, as every process of one installation shares them."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "KAMENG_CARD_KEY": settings.KAMENG_CARD_KEY,
        "KAMENG_INSTANCE_DIR": str(settings.INSTANCE_DIR),
    }
