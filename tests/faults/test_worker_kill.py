"""A Celery worker on Redis is killed with SIGKILL in the middle of a renewal sweep and of a refund run; another one
takes over. Every due membership is charged exactly once and every refund paid exactly once, at the channel too."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config.celery import app
from kameng.console.invariants import find_violations
from kameng.core import clock
from kameng.core.models import SweepStat
from kameng.membership import cancellation, reminders
from kameng.membership.models import Charge, Membership
from kameng.payments.models import Payment, Refund
from kameng.sandbox.models import SandboxRefund, SandboxTrade
from tests.factories import PlanFactory, UserFactory, join_vip

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
MEMBERS = 10
WORKER = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=WARNING"]


@pytest.fixture
def workers(redis_broker, worker_database_url, kameng_process_env):
    """Starts real workers on Redis against the test database; the sandbox answers slowly, so a run can be cut."""
    started: list[subprocess.Popen] = []

    def start(*, latency_ms: int) -> subprocess.Popen:
        env = {
            **kameng_process_env,
            "DATABASE_URL": worker_database_url,
            "CELERY_BROKER_URL": redis_broker,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "KAMENG_HTTP_INPROCESS": "1",
            "KAMENG_SANDBOX": "1",
            "KAMENG_SANDBOX_LATENCY_MS": str(latency_ms),
        }
        worker = subprocess.Popen(  # noqa: S603 (our own worker)
            [*WORKER, "--without-heartbeat", "--without-mingle", "--without-gossip"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(worker)
        return worker

    app.conf.task_always_eager = False  # tasks go to Redis from here on
    yield start
    app.conf.task_always_eager = True
    for worker in started:
        if worker.poll() is None:
            worker.terminate()
            worker.wait(timeout=20)


def wait_for(condition, *, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def another_round(sweep: str) -> None:
    """One more run of the sweeps on the surviving worker, waited for (not slept on) until `sweep` has run."""

    def runs() -> int:
        return SweepStat.objects.filter(name=sweep).values_list("runs", flat=True).first() or 0

    before = runs()
    app.send_task("kameng.core.tasks.run_due_sweeps")
    wait_for(lambda: runs() > before)


def kill_when(worker: subprocess.Popen, condition) -> None:
    wait_for(condition)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


def test_a_worker_killed_mid_renewal_sweep_leaves_no_membership_charged_twice_or_not_at_all(workers):
    plan = PlanFactory()
    members = [join_vip(UserFactory(), plan, auto_renew=True) for _ in range(MEMBERS)]
    for _ in range(31):  # reminders go out on time; then every membership is due, none yet charged
        clock.advance(seconds=86400)
        reminders.send_due_reminders()
    renewed = Charge.objects.filter(period_index=1, status=Charge.Status.SUCCEEDED)
    assert renewed.count() == 0

    first = workers(latency_ms=400)
    app.send_task("kameng.core.tasks.run_due_sweeps")
    kill_when(first, lambda: renewed.count() >= 2)
    cut_at = renewed.count()
    assert cut_at < MEMBERS, "the sweep finished before it could be interrupted"

    clock.advance(seconds=11 * 60)  # the claims of the dead worker lapse (10-minute lease)
    workers(latency_ms=0)
    app.send_task("kameng.core.tasks.run_due_sweeps")  # what beat sends every 10 seconds
    wait_for(lambda: renewed.count() == MEMBERS)
    another_round("membership_renewals")  # finds nothing left to charge

    for membership in members:
        assert Payment.objects.filter(order__membership_attempt__charge__membership=membership).count() == 2
    assert Membership.objects.filter(pk__in=[m.pk for m in members], period_index=1).count() == MEMBERS
    assert SandboxTrade.objects.filter(status=SandboxTrade.Status.PAID).count() == 2 * MEMBERS
    assert find_violations() == {}


def test_a_worker_killed_mid_refund_run_pays_every_refund_exactly_once(workers):
    plan = PlanFactory(price_fen=3000)
    users = [UserFactory() for _ in range(MEMBERS)]
    for user in users:
        join_vip(user, plan)
    for user in users:  # each refund waits in the outbox; its delivery task waits on Redis
        cancellation.cancel_membership(user=user, mode="immediate", reason="mistaken_purchase")
    paid = Refund.objects.filter(status=Refund.Status.SUCCEEDED)

    first = workers(latency_ms=400)
    kill_when(first, lambda: paid.count() >= 2)
    assert paid.count() < MEMBERS, "the run finished before it could be interrupted"

    clock.advance(seconds=3 * 60)  # the dead worker's outbox leases (2 minutes) lapse
    workers(latency_ms=0)
    app.send_task("kameng.core.tasks.run_due_sweeps")
    wait_for(lambda: paid.count() == MEMBERS)
    another_round("outbox")  # finds nothing left to pay

    for refund in Refund.objects.all():
        assert [r.amount_fen for r in SandboxRefund.objects.filter(out_refund_no=refund.refund_no)] == [3000]
    assert find_violations() == {}
