"""Checkout throughput on PostgreSQL behind gunicorn: orders placed over HTTP, then paid by signed notifications.

    .venv/bin/python bench/checkout.py [--orders 2000] [--concurrency 32] [--workers 4]

It makes a fresh database `kameng_bench` (`--database`) on the local PostgreSQL (DATABASE_URL's server, default
127.0.0.1:5432), imports N card keys, creates 32 buyers with API tokens, starts gunicorn, and then:
  A. (timed) N orders through POST /api/v1/orders, `concurrency` at once;
  B. (not timed: this is the channel's work, not the shop's) signs N Alipay `trade_status_sync` notifications with
     the sandbox gateway's key, exactly as the sandbox sends them;
  C. (timed) posts them to /payments/notify/alipay/, `concurrency` at once.
It prints paid-and-delivered orders per second over A + C (both requests counted), p50/p99 of each request, errors,
delivered orders and the shop's invariants (`check_invariants`: keys sold once, ledger balanced, ...). Also a
ceiling: 100 × concurrency GET /healthz requests, the same server's throughput on a trivial endpoint.
Only 127.0.0.1 is contacted; every request has a timeout.
"""

import argparse
import json
import secrets
import statistics
import tempfile

from common import (
    alipay_paid_notification,
    django_setup,
    fresh_database,
    manage,
    percentile,
    run_parallel,
    save_report,
    server_env,
    start_gunicorn,
    stop,
)

SKU = "qq-coins-30"


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
    parser.add_argument("--database", default="kameng_bench", help="dropped and made anew (kameng_… only)")
    args = parser.parse_args()

    base = f"http://127.0.0.1:{args.port}"
    env = server_env(
        database_url=fresh_database(args.database),
        port=args.port,
        instance=tempfile.mkdtemp(prefix="kameng-bench-"),
    )
    manage(env, "migrate", "--noinput")
    manage(env, "load_demo")
    keys = "\n".join(f"BENCH-{secrets.token_hex(8)}" for _ in range(args.orders)).encode()
    manage(env, "import_keys", "--sku", SKU, "-", stdin=keys)

    django_setup(env)
    from kameng.accounts.services import issue_token, register_user
    from kameng.console.invariants import find_violations
    from kameng.orders.models import Order
    from kameng.sandbox import keys as sandbox_keys

    password = secrets.token_urlsafe(12)  # throw-away bench accounts
    tokens = [
        issue_token(user=register_user(username=f"bench{i}", password=password, email=f"b{i}@example.com"))
        for i in range(args.concurrency)
    ]
    gunicorn = start_gunicorn(env, port=args.port, workers=args.workers, threads=args.threads)
    try:
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
            alipay_paid_notification(no, amount, private, sandbox_keys.ALIPAY_APP_ID) for no, amount in placed
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
        stop(gunicorn)

    delivered = Order.objects.filter(status=Order.Status.DELIVERED).count()
    # Keys sold once (each delivered order holds exactly its keys), ledger balanced: the shop's own checks.
    violations = find_violations()
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
        "invariant_violations": violations,
        "ceiling_healthz_per_s": round(len(lat_h) / time_h, 1),
        "median_request_ms_all": round(statistics.median(lat_a + lat_c) * 1000, 1),
    }
    print(json.dumps(report, indent=2))
    save_report("checkout", report)


if __name__ == "__main__":
    main()
