"""Mixed traffic with locust against a production-style gunicorn on PostgreSQL, then the shop's invariants.

    .venv/bin/python bench/load.py [--seconds 60] [--users 32] [--workers 2×cores] [--port 8810]
                                   [--database kameng_load] [--think 0] [--no-celery]

It makes a fresh database `kameng_load` on the local PostgreSQL (DATABASE_URL's server, default 127.0.0.1:5432),
loads the demo catalogue and seeds, through the shop's own services:
  * card keys for the goods ordered under load (enough for every order the run can place);
  * one VIP member per simulated user (月卡 without auto-renew, paid in the sandbox), with an API token;
  * a pool of other VIP members, joined the same way, for the cancel task (each cancels once);
then starts gunicorn (sync workers, 2 per core, as bench/checkout.py) and, as in production, a Celery worker with beat
(the embedded folder-backed queue), and runs bench/locustfile.py headless for `--seconds` with `--users` people at
once (no think time by default: a closed loop, like the other benchmarks). Afterwards it lets the sweeps finish
what the run queued (refunds through the sandbox gateway, mail), checks in the database that every paid order was
delivered, and runs `manage.py check_invariants`.

It prints and saves to bench/results/load.json requests/s, p50/p99 per request type and overall, the error rate,
and the CPU that other work on the machine took meanwhile. It exits 1 if any request failed or any invariant is
broken. Only 127.0.0.1 is contacted.
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import (
    PY,
    ROOT,
    ForeignLoad,
    default_workers,
    django_setup,
    fresh_database,
    manage,
    run_parallel,
    save_report,
    server_env,
    start_gunicorn,
    stop,
)

ORDER_SKUS = ["qq-coins-30", "steam-wallet-50"]  # automatic delivery, card keys seeded for the whole run
PLAN = "vip-month"
PASSWORD = "Load-Bench-Pass-42"  # noqa: S105  (throw-away accounts in a throw-away database)
SCENARIOS = {  # request names (as bench/locustfile.py reports them) by task
    "browse": ["GET /", "GET /c/[slug]/", "GET /p/[sku]/", "GET /api/v1/products"],
    "order": ["POST /api/v1/orders", "POST /payments/notify/alipay/"],
    "member_centre": ["GET /member/"],
    "cancel": ["GET /api/v1/membership/refund-quote", "POST /api/v1/membership/cancel"],
    "login (on start)": ["GET /accounts/login/", "POST /accounts/login/"],
}


def seed(*, shoppers: int, leavers: int, keys_per_sku: int, password: str) -> dict:
    """Accounts, memberships and stock, through the services (one password hash shared by every account)."""
    from django.contrib.auth.hashers import make_password

    from kameng.accounts.models import User
    from kameng.accounts.services import issue_token
    from kameng.catalog.models import Category, Product
    from kameng.inventory import services as inventory
    from kameng.inventory.models import ImportBatch
    from kameng.membership import services as membership
    from kameng.membership.models import Membership
    from kameng.payments.selectors import pay_redirect_url
    from kameng.sandbox import keys as sandbox_keys
    from kameng.sandbox import services as sandbox

    for sku in ORDER_SKUS:
        product = Product.objects.get(sku=sku)
        for first in range(0, keys_per_sku, 5000):
            lines = (f"LOAD-{sku[:4].upper()}-{i:08d}" for i in range(first, min(keys_per_sku, first + 5000)))
            inventory.import_card_keys(product=product, text="\n".join(lines), source=ImportBatch.Source.CLI)

    hashed = make_password(password)  # Argon2 once; every seeded account shares the hash
    users = User.objects.bulk_create(
        [
            User(username=f"load-shopper{i}", email=f"shopper{i}@example.com", password=hashed)
            for i in range(shoppers)
        ]
        + [
            User(username=f"load-leaver{i}", email=f"leaver{i}@example.com", password=hashed)
            for i in range(leavers)
        ]
    )
    began = time.perf_counter()
    for user in users:
        made = membership.subscribe(
            user=user,
            plan_code=PLAN,
            channel="alipay",
            auto_renew=False,
            consent=membership.ConsentContext(given=False, ip="127.0.0.1", user_agent="bench/load.py"),
        )
        # The member pays at the sandbox cashier; the signed notification reaches the shop in process (eager).
        trade = sandbox.trade_from_pay_url(pay_redirect_url(order=made.order, client_ip="127.0.0.1"))
        sandbox.pay(trade=trade)
    settle()
    print(f"{len(users)} members joined and paid in {time.perf_counter() - began:.0f} s", flush=True)
    active = Membership.objects.filter(status=Membership.Status.ACTIVE).count()
    if active != len(users):
        raise SystemExit(f"seeding failed: {active} of {len(users)} memberships active")
    accounts = [{"username": u.username, "token": issue_token(user=u)} for u in users]
    return {
        "password": password,
        "shoppers": accounts[:shoppers],
        "leavers": accounts[shoppers:],
        "skus": ORDER_SKUS,
        "products": list(Product.objects.filter(is_active=True).values_list("sku", flat=True)),
        "categories": list(Category.objects.filter(is_active=True).values_list("slug", flat=True)),
        "alipay_app_id": sandbox_keys.ALIPAY_APP_ID,
        "alipay_private_key": sandbox_keys.sandbox_keys()["alipay_private"],
    }


def settle() -> int:
    """Runs the sweeps until nothing is due: what the run queued (refunds, mail) is done before the checks."""
    from kameng.core import sweeps

    handled = 0
    for _ in range(50):
        done = sum(sweeps.run_due_sweeps().values())
        handled += done
        if not done:
            break
    return handled


def warm_up(base: str, workers: int) -> None:
    """A few requests of every kind first, so that no worker meets its first page (templates, URLconf, the help
    search's dictionary) during the measured run."""
    paths = ["/", "/c/game-cards/", "/p/qq-coins-30/", "/api/v1/products", "/accounts/login/", "/member/"]
    run_parallel(
        lambda session, path: session.get(base + path, timeout=60, allow_redirects=False).status_code < 500,
        paths * workers * 2,
        workers * 2,
    )


def start_celery(env: dict, log) -> subprocess.Popen:
    return subprocess.Popen(
        [
            str(Path(PY).parent / "celery"),
            "-A",
            "config",
            "worker",
            "--beat",
            "--pool=solo",
            "--loglevel=WARNING",
            f"--schedule={env['KAMENG_INSTANCE_DIR']}/celerybeat-schedule",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def summarise(stats: dict) -> dict:
    """Per request type and per scenario: count, failures, requests/s, p50/p99 (locust's percentiles, ms)."""
    seconds = stats["seconds"] or 1
    by_name = {e["name"]: e for e in stats["entries"]}
    per_type = {
        name: {k: e[k] for k in ("requests", "failures", "requests_per_s", "p50_ms", "p99_ms", "max_ms")}
        for name, e in sorted(by_name.items())
    }
    scenarios = {}
    for scenario, names in SCENARIOS.items():
        rows = [by_name[n] for n in names if n in by_name]
        scenarios[scenario] = {
            "requests": sum(r["requests"] for r in rows),
            "failures": sum(r["failures"] for r in rows),
            "requests_per_s": round(sum(r["requests"] for r in rows) / seconds, 1),
        }
    total = stats["total"]
    return {
        "requests": total["requests"],
        "failures": total["failures"],
        "error_rate": round(total["failures"] / total["requests"], 5) if total["requests"] else 1.0,
        "requests_per_s": round(total["requests"] / seconds, 1),
        "p50_ms": total["p50_ms"],
        "p99_ms": total["p99_ms"],
        "per_type": per_type,
        "per_scenario": scenarios,
        "tasks": stats["tasks"],
        "errors": stats["errors"],
    }


def print_table(summary: dict) -> None:
    print(f"\n{'request':40} {'count':>7} {'fail':>5} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7}")
    for name, row in summary["per_type"].items():
        print(
            f"{name:40} {row['requests']:7d} {row['failures']:5d} {row['requests_per_s']:7.1f} "
            f"{row['p50_ms']:7.0f} {row['p99_ms']:7.0f}"
        )
    print(
        f"{'overall':40} {summary['requests']:7d} {summary['failures']:5d} {summary['requests_per_s']:7.1f} "
        f"{summary['p50_ms']:7.0f} {summary['p99_ms']:7.0f}"
    )
    print(f"error rate: {summary['error_rate']:.3%}   tasks: {summary['tasks']}")
    for error in summary["errors"]:
        print(f"  error ×{error['occurrences']}: {error['method']} {error['name']}: {error['error']}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=60, help="how long locust runs (default 60)")
    parser.add_argument("--users", type=int, default=32, help="simulated people at once (default 32)")
    parser.add_argument("--workers", type=int, default=default_workers(), help="gunicorn sync workers")
    parser.add_argument("--port", type=int, default=8810)
    parser.add_argument("--database", default="kameng_load", help="dropped and made anew (kameng_… only)")
    parser.add_argument("--think", type=float, default=0.0, help="max think time between tasks, seconds")
    parser.add_argument("--cancel-pool", type=int, default=0, help="members who may cancel (default: enough)")
    parser.add_argument("--no-celery", action="store_true", help="no Celery worker during the run")
    parser.add_argument("--report", default="load", help="name of the JSON report in bench/results/")
    args = parser.parse_args()

    instance = tempfile.mkdtemp(prefix="kameng-load-")
    env = server_env(database_url=fresh_database(args.database), port=args.port, instance=instance)
    began = time.perf_counter()
    manage(env, "migrate", "--noinput")
    manage(env, "load_demo")
    # This process seeds and settles in process: sandbox calls through the WSGI handler, Celery tasks eager.
    django_setup({**env, "KAMENG_HTTP_INPROCESS": "1", "CELERY_TASK_ALWAYS_EAGER": "1"})
    # The cancel pool and the stock must outlast the run: the server answers at most ~200 tasks/s on 2 cores and a
    # closed-loop person makes at most ~25 a second; 5 % of tasks cancel, 15 % order.
    tasks_per_s = min(args.users * 25, 200)
    leavers = args.cancel_pool or int(tasks_per_s * args.seconds * 0.05) + 50
    keys = int(tasks_per_s * args.seconds * 0.15 / len(ORDER_SKUS)) + 500
    data = seed(shoppers=args.users, leavers=leavers, keys_per_sku=keys, password=PASSWORD)
    seed_file = Path(instance) / "load-seed.json"  # tokens and the sandbox's key: it stays in the temp folder
    seed_file.write_text(json.dumps(data))
    print(
        f"seeded {args.users} members + {leavers} who may cancel, {keys} keys × {len(ORDER_SKUS)} products "
        f"in {time.perf_counter() - began:.0f} s",
        flush=True,
    )
    from django.db import connection

    connection.close()

    stats_file = Path(instance) / "load-stats.json"
    celery_log = (Path(instance) / "celery.log").open("wb")
    gunicorn = start_gunicorn(env, port=args.port, workers=args.workers)
    celery = None
    try:
        warm_up(f"http://127.0.0.1:{args.port}", args.workers)
        celery = None if args.no_celery else start_celery(env, celery_log)
        with ForeignLoad() as foreign:
            locust = subprocess.run(
                [
                    str(Path(PY).parent / "locust"),
                    "-f",
                    str(ROOT / "bench" / "locustfile.py"),
                    "--headless",
                    "--users",
                    str(args.users),
                    "--spawn-rate",
                    str(args.users),
                    "--run-time",
                    f"{args.seconds}s",
                    "--stop-timeout",
                    "30",
                    "--host",
                    f"http://127.0.0.1:{args.port}",
                    "--only-summary",
                    "--loglevel",
                    "WARNING",
                ],
                cwd=ROOT,
                env={
                    **env,
                    "KAMENG_LOAD_SEED": str(seed_file),
                    "KAMENG_LOAD_STATS": str(stats_file),
                    "KAMENG_LOAD_THINK": str(args.think),
                },
                check=False,
                capture_output=True,
                timeout=args.seconds + 300,
            )
    finally:
        stop(celery)
        stop(gunicorn)
        celery_log.close()
    if not stats_file.exists():
        sys.stderr.write(locust.stdout.decode(errors="replace") + locust.stderr.decode(errors="replace"))
        raise SystemExit(f"locust wrote no stats (exit {locust.returncode})")
    summary = summarise(json.loads(stats_file.read_text()))

    settled = settle()
    from kameng.membership.models import Cancellation
    from kameng.orders.models import Order
    from kameng.payments.models import Payment, Refund

    goods = Order.objects.filter(kind=Order.Kind.GOODS)
    paid_goods = goods.filter(payments__isnull=False).distinct()
    undelivered = paid_goods.exclude(status=Order.Status.DELIVERED).count()
    refunds = Refund.objects.filter(reason=Refund.Reason.MEMBERSHIP_CANCELLED)
    invariants = subprocess.run(
        [PY, "manage.py", "check_invariants"], cwd=ROOT, env=env, capture_output=True, check=False
    )
    try:
        violations = json.loads(invariants.stdout.decode())["violations"]
    except (ValueError, KeyError):
        violations = {"check_invariants": [invariants.stderr.decode(errors="replace")[-500:]]}

    report = {
        "seconds": args.seconds,
        "users": args.users,
        "gunicorn_workers": args.workers,
        "celery_worker": not args.no_celery,
        "think_time_max_s": args.think,
        "foreign_cpu_cores": foreign.cores,  # other work on the machine during the run, in cores (of 2)
        **summary,
        "database": {
            "goods_orders": goods.count(),
            "goods_orders_paid": paid_goods.count(),
            "paid_goods_orders_not_delivered": undelivered,
            "payments": Payment.objects.count(),
            "cancellations": Cancellation.objects.count(),
            "cancellation_refunds": refunds.count(),
            "cancellation_refunds_succeeded": refunds.filter(status=Refund.Status.SUCCEEDED).count(),
            "sweep_items_after_run": settled,
        },
        "cancel_pool": leavers,
        "invariant_violations": violations,
    }
    path = save_report(args.report, report)
    print_table(summary)
    print(f"database: {json.dumps(report['database'])}")
    print(f"other work on the machine during the run: {foreign.cores} cores on average")
    print(f"invariants: {'all hold' if not violations else json.dumps(violations, ensure_ascii=False)}")
    print(f"report: {path.relative_to(ROOT)}")
    failed = summary["failures"] > 0 or violations or undelivered or summary["requests"] == 0
    if summary["tasks"].get("cancel_pool_empty"):
        print(
            f"warning: the cancel pool ran out {summary['tasks']['cancel_pool_empty']} times (--cancel-pool)"
        )
    if failed:
        print(f"FAILED (the server's instance folder, with celery.log, is kept: {instance})")
        sys.exit(1)
    shutil.rmtree(instance, ignore_errors=True)
    print("OK: no error, every invariant holds")


if __name__ == "__main__":
    main()
