"""bench/load.py end to end for a few seconds: mixed traffic on gunicorn + PostgreSQL, no error, invariants hold.

Runs where locust is installed (`make test` and `make load` install the `bench` extra) and PostgreSQL is reachable
(DATABASE_URL's server); its database is kameng_load_pytest, its port 8819. Required in CI.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.postgres


def test_ten_seconds_of_mixed_traffic_have_no_error_and_break_no_invariant():
    # Looked up, never imported: importing locust monkey-patches the whole test process with gevent.
    if importlib.util.find_spec("locust") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the load test: `make test` installs locust (the `bench` extra)")
        pytest.skip("locust is not installed: `make load` installs it (the `bench` extra of pyproject.toml)")
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the PostgreSQL tests: set DATABASE_URL to a PostgreSQL database")
        pytest.skip("needs PostgreSQL (set DATABASE_URL=postgres://…)")
    done = subprocess.run(
        [
            sys.executable,
            "bench/load.py",
            "--seconds",
            "10",
            "--users",
            "4",
            "--port",
            "8819",
            "--database",
            "kameng_load_pytest",
            "--report",
            "load-pytest",
        ],
        cwd=ROOT,
        capture_output=True,
        timeout=600,
        check=False,
    )
    output = done.stdout.decode(errors="replace")[-4000:] + done.stderr.decode(errors="replace")[-4000:]
    assert done.returncode == 0, output
    report = json.loads((ROOT / "bench" / "results" / "load-pytest.json").read_text())
    assert report["failures"] == 0 and report["invariant_violations"] == {}
    assert all(
        report["per_scenario"][s]["requests"] > 0 for s in ("browse", "order", "member_centre", "cancel")
    )
    assert report["database"]["paid_goods_orders_not_delivered"] == 0
    assert (
        report["database"]["cancellations"]
        == report["per_type"]["POST /api/v1/membership/cancel"]["requests"]
    )
