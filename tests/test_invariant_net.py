"""The invariant net fails a test that leaves the shop's data broken, whichever way the test reached the database,
and spares only a test that says which promise it breaks on purpose.

Each case runs an inner pytest session (pytester, in a subprocess) on an in-memory SQLite database: the net's
timing against pytest-django's rollback and flush is the same on every database.
"""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

INNER_SETUP = """
import pytest
from django.utils import timezone

from kameng.payments.models import LedgerEntry, LedgerLine


def leave_one_fen_unbalanced():
    entry = LedgerEntry.objects.create(at=timezone.now(), kind="test", reference="ONE-FEN")
    LedgerLine.objects.create(entry=entry, account="asset:channel:alipay", amount_fen=1)
"""


def _run_inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tests: str) -> pytest.RunResult:
    pytester.makepyprojecttoml(
        """
        [tool.pytest.ini_options]
        DJANGO_SETTINGS_MODULE = "config.settings.test"
        addopts = "-p tests.invariant_net -p no:cacheprovider --no-migrations --strict-markers"
        """
    )
    pytester.makepyfile(test_inner=INNER_SETUP + tests)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("KAMENG_INSTANCE_DIR", str(pytester.path / "instance"))
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    return pytester.runpytest_subprocess("-rA")


def test_a_one_fen_imbalance_fails_a_django_db_test_a_transactional_test_and_a_live_server_test(
    pytester, monkeypatch
):
    result = _run_inner(
        pytester,
        monkeypatch,
        """
@pytest.mark.django_db
def test_in_a_rolled_back_transaction():
    leave_one_fen_unbalanced()


@pytest.mark.django_db(transaction=True)
def test_in_a_flushed_database():
    leave_one_fen_unbalanced()


def test_beside_a_live_server(live_server):
    leave_one_fen_unbalanced()


def test_through_the_db_fixture(db):
    leave_one_fen_unbalanced()
""",
    )
    result.assert_outcomes(failed=4)
    for name in (
        "in_a_rolled_back_transaction",
        "in_a_flushed_database",
        "beside_a_live_server",
        "through_the_db_fixture",
    ):
        result.stdout.fnmatch_lines([f"FAILED test_inner.py::test_{name}*"])
    verdict = (
        "the test left the shop's data breaking its promises: {'unbalanced_ledger_entries': ['ONE-FEN']}"
    )
    assert result.stdout.lines.count(verdict) == 4  # one failure report each (the summary may repeat it)


def test_only_a_test_that_names_the_promise_it_breaks_on_purpose_passes(pytester, monkeypatch):
    """Naming another promise, or a promise by a wrong name, switches nothing off."""
    result = _run_inner(
        pytester,
        monkeypatch,
        """
@pytest.mark.django_db
@pytest.mark.breaks_invariants("unbalanced_ledger_entries")
def test_says_it_unbalances_the_ledger():
    leave_one_fen_unbalanced()


@pytest.mark.django_db
@pytest.mark.breaks_invariants("refunds_above_payment")
def test_names_another_promise():
    leave_one_fen_unbalanced()


@pytest.mark.django_db
@pytest.mark.breaks_invariants("unbalanced_ledger_entry")
def test_misspells_the_promise():
    leave_one_fen_unbalanced()


@pytest.mark.django_db
def test_keeps_every_promise():
    entry = LedgerEntry.objects.create(at=timezone.now(), kind="test", reference="BALANCED")
    LedgerLine.objects.create(entry=entry, account="asset:channel:alipay", amount_fen=1)
    LedgerLine.objects.create(entry=entry, account="liability:customer_prepayments", amount_fen=-1)
""",
    )
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            "PASSED test_inner.py::test_says_it_unbalances_the_ledger",
            "PASSED test_inner.py::test_keeps_every_promise",
            "FAILED test_inner.py::test_names_another_promise*",
            "FAILED test_inner.py::test_misspells_the_promise*",
        ],
        consecutive=False,
    )
    assert "unknown checks ['unbalanced_ledger_entry']" in result.stdout.str()
