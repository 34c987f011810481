"""Renewal throughput on PostgreSQL: N due auto-renewing memberships charged by the renewal sweep.

    .venv/bin/python bench/renewals.py [--memberships 100000] [--workers 4] [--database kameng_bench_renewals]

It makes a fresh database `kameng_bench_renewals` (`--database`) on the local PostgreSQL (DATABASE_URL's server,
default 127.0.0.1:5432), creates N members whose monthly period has just ended, each with a signed Alipay 周期扣款
agreement (at the shop and at the sandbox gateway) and the 7-day reminder already sent, then (timed) runs the renewal
sweep in `--workers` processes at once. Every charge goes through the real protocol, in process: the shop signs
alipay.trade.pay with RSA2, the sandbox gateway verifies it, takes the money, signs its answer, the shop verifies it
and records payment, ledger, order, period and receipt in one transaction. It prints renewals per second, checks in
the database that each membership was charged exactly once and the ledger sums to zero, and saves the figures
to bench/results/renewals.json.
"""

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from datetime import timedelta

from common import ROOT, fresh_database, manage, save_report


def configure(env: dict) -> None:
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def worker(env: dict, results) -> None:
    configure(env)
    from kameng.membership import renewals

    done = 0
    while True:
        handled = renewals.renew_due_memberships(limit=500)
        done += handled
        if handled == 0:
            break
    results.put(done)


def seed(count: int) -> None:
    """Bulk-creates members in the state the reminder and notice steps leave them (docs/rules.md#renewal-schedule):
    reminded 7 days before the planned date C, announced on C-4, the first attempt (C-2) due now. The sandbox
    clock is moved into 07:00–21:00 Beijing time first if need be: no charge is sent outside those hours."""
    from django.contrib.auth.hashers import make_password

    from kameng.accounts.models import User
    from kameng.core import clock
    from kameng.membership import schedule
    from kameng.membership.models import Agreement, Charge, Membership, Plan, Reminder
    from kameng.membership.periods import add_months
    from kameng.sandbox.models import SandboxAgreement

    if not time_of_day_ok(clock.now()):  # night in Beijing: to the next 07:00
        local = clock.now()
        morning = local.replace(hour=7, minute=0, second=0, microsecond=0)
        clock.advance(
            seconds=int(
                ((morning if morning > local else morning + timedelta(days=1)) - local).total_seconds()
            )
        )
    now = clock.now()
    for ahead in (2, 1, 0):  # the period ends in 2 days (its C-2 is today), or less near a month's end
        start = add_months(now + timedelta(days=ahead), -1)
        end = add_months(start, 1)
        coming = schedule.cycle(period_end=end, subscribed_at=start, anchor_at=start)
        if now.date() in coming.window_days:
            break
    if coming.first_attempt_at > clock.now():
        clock.advance(seconds=int((coming.first_attempt_at - clock.now()).total_seconds()) + 1)
    plan = Plan.objects.create(
        code="bench-month", name="月卡", period="month", price_fen=1500, discount_percent=5
    )
    password = make_password(None)  # unusable: bench members never log in
    for first in range(0, count, 5000):
        size = min(5000, count - first)
        users = User.objects.bulk_create(
            User(username=f"member{first + i}", email=f"m{first + i}@example.com", password=password)
            for i in range(size)
        )
        memberships = Membership.objects.bulk_create(
            Membership(
                user=u,
                plan=plan,
                status=Membership.Status.ACTIVE,
                channel="alipay",
                price_fen=1500,
                auto_renew=True,
                created_at=start,
                anchor_at=start,
                current_period_start=start,
                current_period_end=end,
                next_charge_at=coming.first_attempt_at,
            )
            for u in users
        )
        Agreement.objects.bulk_create(
            Agreement(
                membership=m,
                channel="alipay",
                external_no=f"KB{m.pk:020d}",
                channel_agreement_no=f"2026{m.pk:016d}",
                status=Agreement.Status.ACTIVE,
                single_amount_fen=1500,
                created_at=start,
                signed_at=start,
            )
            for m in memberships
        )
        SandboxAgreement.objects.bulk_create(
            SandboxAgreement(
                channel="alipay",
                external_no=f"KB{m.pk:020d}",
                agreement_no=f"2026{m.pk:016d}",
                status=SandboxAgreement.Status.NORMAL,
                period_months=1,
                single_amount_fen=1500,
                next_deduct_date=coming.planned,
                notify_url="http://127.0.0.1:8000/payments/notify/alipay/",
                created_at=start,
                signed_at=start,
            )
            for m in memberships
        )
        Charge.objects.bulk_create(
            Charge(membership=m, period_index=0, amount_fen=1500, status="succeeded", created_at=start)
            for m in memberships
        )
        Charge.objects.bulk_create(  # announced on C-4 (WeChat's notice; Alipay answers at once)
            Charge(
                membership=m,
                period_index=1,
                amount_fen=1500,
                is_renewal=True,
                created_at=coming.notice_at,
                announced_at=coming.notice_at,
            )
            for m in memberships
        )
        Reminder.objects.bulk_create(
            Reminder(
                membership=m,
                period_index=1,
                days_before=7,
                charge_at=coming.last_attempt_at,
                amount_fen=1500,
                sent_at=coming.reminder_at(7),
            )
            for m in memberships
        )


def time_of_day_ok(moment) -> bool:
    from kameng.membership import schedule

    return schedule.in_charge_hours(moment) and moment.hour < 21


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--memberships", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--database", default="kameng_bench_renewals", help="dropped and made anew (kameng_… only)"
    )
    args = parser.parse_args()

    env = {
        "DATABASE_URL": fresh_database(args.database),
        "KAMENG_INSTANCE_DIR": tempfile.mkdtemp(prefix="kameng-bench-"),
        "KAMENG_PUBLIC_URL": "http://127.0.0.1:8000",
        "KAMENG_SANDBOX": "1",
        "KAMENG_HTTP_INPROCESS": "1",  # the sandbox gateway answers in process: no network between the two
        "KAMENG_LOG_LEVEL": "WARNING",
        "CELERY_BROKER_URL": "memory://",  # receipts wait in the outbox for the mail worker; not timed here
        "DJANGO_DEBUG": "0",
    }
    manage({**os.environ, **env}, "migrate", "--noinput")
    configure(env)
    began = time.perf_counter()
    seed(args.memberships)
    print(f"seeded {args.memberships} due memberships in {time.perf_counter() - began:.1f} s", flush=True)
    from django.db import connection

    connection.close()

    results = multiprocessing.get_context("spawn").Queue()
    procs = [
        multiprocessing.get_context("spawn").Process(target=worker, args=(env, results))
        for _ in range(args.workers)
    ]
    started = time.perf_counter()
    for p in procs:
        p.start()
    counts = [results.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - started

    from kameng.console.invariants import find_violations
    from kameng.membership.models import Charge, Membership
    from kameng.payments.models import Payment

    paid = Payment.objects.filter(order__membership_attempt__charge__period_index=1).count()
    renewed = Membership.objects.filter(period_index=1, status="active").count()
    succeeded = Charge.objects.filter(period_index=1, status="succeeded").count()
    # One payment kept per period, the channel's books agree with ours, the ledger balances.
    violations = find_violations()
    print(f"workers: {args.workers}  sweeps handled: {counts}")
    print(f"renewals: {succeeded} in {elapsed:.1f} s = {succeeded / elapsed:.0f} renewals/s")
    print(
        f"memberships renewed: {renewed}/{args.memberships}; payments: {paid}; invariants broken: {violations}"
    )
    ok = succeeded == renewed == paid == args.memberships and not violations
    print("OK: every membership charged exactly once" if ok else "FAILED invariant checks")
    save_report(
        "renewals",
        {
            "memberships": args.memberships,
            "workers": args.workers,
            "seconds": round(elapsed, 1),
            "renewals_per_s": round(succeeded / elapsed, 1),
            "renewed": renewed,
            "payments": paid,
            "invariant_violations": violations,
            "ok": ok,
        },
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
