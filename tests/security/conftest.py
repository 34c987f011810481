"""Fixtures the attacker-style tests share (README.md here): a member, an API client, the shop's books as they stand
(to prove a refused probe changed nothing), and a database block for a world a class of probes shares.

Keep it generic and small: a fixture only one module needs lives in that module.
"""

from collections.abc import Callable

import pytest
from django.apps import apps
from django.db import transaction
from django.test import Client

from tests.factories import UserFactory, api_client

# Every table a probe could move money, stock, a membership or a member's records in. Logs of what was received
# (payments.NotificationLog) and sweep counters are left out: a refused probe is logged there on purpose.
BOOKS = (
    "orders.Order",
    "inventory.CardKey",
    "payments.Payment",
    "payments.Refund",
    "payments.LedgerEntry",
    "payments.LedgerLine",
    "membership.Membership",
    "membership.Agreement",
    "membership.Charge",
    "membership.ChargeAttempt",
    "membership.Cancellation",
    "support.Ticket",
    "support.TicketMessage",
    "support.Complaint",
    "notifications.Notification",
    "core.OutboxMessage",
    "core.AuditLog",
)


@pytest.fixture
def member(db):
    """An ordinary signed-up member."""
    return UserFactory()


@pytest.fixture
def api_client_for(db) -> Callable[..., Client]:
    """`api_client_for(user)`: a Django test client carrying a fresh Bearer token of that user."""
    return api_client


@pytest.fixture
def shop_state() -> Callable[[], dict]:
    """`shop_state()`: every row of the shop's books (BOOKS). Equal before and after a refused probe means the probe
    changed nothing: no order, key, payment, refund, ledger line, membership, ticket, message or audit line."""

    def snapshot() -> dict:
        return {label: list(apps.get_model(label).objects.order_by("pk").values()) for label in BOOKS}

    return snapshot


@pytest.fixture(scope="class")
def class_db(django_db_setup, django_db_blocker):
    """Database access for a class-scoped fixture (a world of objects a class of probes shares), as Django's
    setUpTestData has it: rows made once inside a block that each test of the class runs inside (in its own
    savepoint, rolled back after it), and that is rolled back itself after the class's last test. Class, not
    module: pytest-django runs a module's transactional tests after the others, and they must not find the block
    still open."""
    with django_db_blocker.unblock():
        block = transaction.atomic()
        # Marked as TestCase marks its class-wide block, so the lock-order guard (kameng.core.locking) takes
        # each service's own block as the transaction, not this one.
        block._from_testcase = True
        block.__enter__()
        try:
            yield
        finally:
            transaction.set_rollback(True)
            block.__exit__(None, None, None)
