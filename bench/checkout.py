"""Checkout throughput on PostgreSQL behind gunicorn: orders placed over HTTP, then paid by signed notifications.

    .venv/bin/python bench/checkout.py [--orders 2000] [--concurrency 32] [--workers 4]

It makes a fresh database `kameng_bench` on the local PostgreSQL (DATABASE_URL's server, default 127.0.0.1:5432),
imports N card keys, creates 32 buyers with API tokens, starts gunicorn, and then:
  A. (timed) N orders through POST /api/v1/orders, `concurrency` at once;
  B. (not timed: this is the channel's work, not the shop's) signs N Alipay `trade_status_sync` notifications with
     the sandbox gateway's key, exactly as the sandbox sends them;
  C. (timed) posts them to /payments/notify/alipay/, `concurrency` at once.
It prints paid-and-delivered orders per second over A + C (both requests counted), p50/p99 of each request, errors,
and the database checks: keys sold twice, delivered orders, ledger sum. Also a ceiling: 100 × concurrency
GET /healthz requests, the same server's throughput on a trivial endpoint.
Only 127.0.0.1 is contacted; every request has a timeout.
"""

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import requests

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
SKU = "qq-coins-30"


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))] * 1000


def manage(env: dict, *args: str, stdin: bytes | None = None) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True, input=stdin, capture_output=True)


def run_parallel(fn, items, concurrency: int) -> tuple[float, list[float], int]:
    """Runs fn over items with `concurrency` threads, each with its own keep-alive session."""
    local = threading.local()
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def call(item):
        nonlocal errors
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        began = time.perf_counter()
        ok = fn(session, item)
        spent = time.perf_counter() - began
        with lock:
            latencies.append(spent)
            errors += not ok

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(call, items))
    return time.perf_counter() - started, latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--threads", type=int, default=1, help="gunicorn threads per worker (gthread: keep-alive)"
    )
    parser.add_argument("--port", type=int, default=8123)
    args = parser.parse_args()

    server = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test").rsplit("/", 1)[0]
    base = f"http://127.0.0.1:{args.port}"
    instance = tempfile.mkdtemp(prefix="kameng-bench-")
    env = {
        **os.environ,
        "DATABASE_URL": f"{server}/kameng_bench",
        "KAMENG_INSTANCE_DIR": instance,
        "KAMENG_PUBLIC_URL": base,
        "KAMENG_LOG_LEVEL": "WARNING",
        "DATABASE_CONN_MAX_AGE": "600",
        "KAMENG_HTTP_INPROCESS": "0",
        "DJANGO_DEBUG": "0",
    }
    admin = f"{server}/postgres"
    subprocess.run(
        ["psql", admin, "-qc", "DROP DATABASE IF EXISTS kameng_bench"], check=True, capture_output=True
    )
    subprocess.run(["psql", admin, "-qc", "CREATE DATABASE kameng_bench"], check=True)
    manage(env, "migrate", "--noinput")
    manage(env, "load_demo")
    keys = "\n".join(f"BENCH-{secrets.token_hex(8)}" for _ in range(args.orders)).encode()
    manage(env, "import_keys", "--sku", SKU, "-", stdin=keys)

    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from kameng.accounts.services import issue_token, register_user
    from kameng.core.money import yuan_str
    from kameng.inventory.models import CardKey
    from kameng.orders.models import Order
    from kameng.payments import ledger
    from kameng.payments.channels import alipay_protocol
    from kameng.sandbox import keys as sandbox_keys

    password = secrets.token_urlsafe(12)  # throw-away bench accounts
    tokens = [
        issue_token(user=register_user(username=f"bench{i}", password=password, email=f"b{i}@example.com"))
        for i in range(args.concurrency)
    ]
    gunicorn = subprocess.Popen(
        [
            str(Path(PY).parent / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{args.port}",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--log-level",
            "warning",
            "--backlog",
            "2048",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                if requests.get(f"{base}/healthz", timeout=5).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        placed: list[tuple[str, int]] = []

        def order(session, i):
            headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}"}
            response = session.post(
                f"{base}/api/v1/orders",
                json={"sku": SKU, "quantity": 1, "channel": "alipay"},
                headers=headers,
                timeout=30,
            )
            if response.status_code != 201:
                return False
            body = response.json()
            placed.append((body["order_no"], body["amount_fen"]))
            return True

        time_a, lat_a, err_a = run_parallel(order, range(args.orders), args.concurrency)

        private = sandbox_keys.sandbox_keys()["alipay_private"]
        bodies = [
            urlencode(
                alipay_protocol.sign_notification(
                    {
                        "notify_id": f"N{no}",
                        "notify_type": "trade_status_sync",
                        "notify_time": "2026-11-24 12:00:00",
                        "charset": "utf-8",
                        "version": "1.0",
                        "app_id": sandbox_keys.ALIPAY_APP_ID,
                        "trade_no": f"T{no}",
                        "out_trade_no": no,
                        "trade_status": "TRADE_SUCCESS",
                        "total_amount": yuan_str(amount),
                    },
                    private,
                )
            )
            for no, amount in placed
        ]

        def notify(session, body):
            response = session.post(
                f"{base}/payments/notify/alipay/",
                data=body,
                timeout=30,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            return response.status_code == 200 and response.content == b"success"

        time_c, lat_c, err_c = run_parallel(notify, bodies, args.concurrency)

        time_h, lat_h, _ = run_parallel(
            lambda session, _: session.get(f"{base}/healthz", timeout=10).ok,
            range(args.concurrency * 100),
            args.concurrency,
        )
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)

    delivered = Order.objects.filter(status=Order.Status.DELIVERED).count()
    sold = CardKey.objects.filter(status=CardKey.Status.SOLD)
    sold_twice = sold.count() - sold.values("order").distinct().count()
    over_delivered = sum(
        1
        for o in Order.objects.filter(status=Order.Status.DELIVERED).only("id", "quantity")
        if CardKey.objects.filter(order_id=o.id).count() != o.quantity
    )
    report = {
        "orders": args.orders,
        "concurrency": args.concurrency,
        "gunicorn_workers": args.workers,
        "paid_and_delivered_per_s": round(delivered / (time_a + time_c), 1),
        "order_create_p50_ms": round(percentile(lat_a, 50), 1),
        "order_create_p99_ms": round(percentile(lat_a, 99), 1),
        "notify_p50_ms": round(percentile(lat_c, 50), 1),
        "notify_p99_ms": round(percentile(lat_c, 99), 1),
        "errors": err_a + err_c,
        "delivered": delivered,
        "keys_sold_twice": sold_twice,
        "orders_with_wrong_key_count": over_delivered,
        "ledger_sum_fen": ledger.total(),
        "ceiling_healthz_per_s": round(len(lat_h) / time_h, 1),
        "median_request_ms_all": round(statistics.median(lat_a + lat_c) * 1000, 1),
    }
    print(json.dumps(report, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "checkout.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
