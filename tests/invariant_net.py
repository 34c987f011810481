"""The safety net under every test: after a test that touched the database, the shop's data keeps its promises.

Loaded by the root conftest (`pytest_plugins`). It runs in the test's call phase, right after the test body and
before any fixture is torn down, so it sees what the test left: inside a `django_db` test's transaction before it
is rolled back, and in a transactional (or live_server) test's database before it is flushed. The checks are
`kameng.console.invariants.DATA_CHECKS` (ledger balanced, keys sold once, refunds within their payment, one kept
payment per membership period): six queries, so the net costs a few milliseconds a test.

A test that damages the data on purpose (the invariant checker's own tests) names what it breaks:
`@pytest.mark.breaks_invariants("unbalanced_ledger_entries")`; the other promises are still checked. The marker
is registered here, not in pyproject.toml, so that any session loading the net knows it (the net's own test runs
one with a configuration of its own). The project's models are imported inside the hooks: this module is loaded
before Django is set up.
"""

import pytest

# The fixtures through which a test gets the database (pytest-django's `db`, `transactional_db` and friends all
# depend on `_django_db_helper`; `live_server` asks for `transactional_db` at run time, so it is named here).
_DATABASE_FIXTURES = {"_django_db_helper", "live_server"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "breaks_invariants(*checks): the test damages the shop's data on purpose; the net skips the named checks",
    )


def _touches_database(item: pytest.Item) -> bool:
    fixturenames = set(getattr(item, "fixturenames", ()))
    return item.get_closest_marker("django_db") is not None or bool(_DATABASE_FIXTURES & fixturenames)


def _checks_for(item: pytest.Item) -> dict:
    from kameng.console.invariants import DATA_CHECKS

    broken_on_purpose: set[str] = set()
    for marker in item.iter_markers("breaks_invariants"):
        if not marker.args:
            raise pytest.UsageError(
                f"{item.nodeid}: breaks_invariants needs the names of the checks it breaks"
            )
        unknown = set(marker.args) - set(DATA_CHECKS)
        if unknown:
            raise pytest.UsageError(
                f"{item.nodeid}: breaks_invariants names unknown checks {sorted(unknown)}; known: {list(DATA_CHECKS)}"
            )
        broken_on_purpose |= set(marker.args)
    return {name: check for name, check in DATA_CHECKS.items() if name not in broken_on_purpose}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    # A failing body raises out of the yield: its own failure is the report, the net adds nothing to it.
    result = yield
    if _touches_database(item):
        from kameng.console.invariants import find_violations

        violations = find_violations(_checks_for(item))
        if violations:
            pytest.fail(
                f"the test left the shop's data breaking its promises: {violations}\n"
                "(fix the code or the test's set-up; only a test that breaks them on purpose may say so with "
                '@pytest.mark.breaks_invariants("<check>", ...))',
                pytrace=False,
            )
    return result
