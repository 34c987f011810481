"""Mixed shop traffic for locust, as bench/load.py runs it (it seeds the accounts and writes KAMENG_LOAD_SEED).

Each simulated person is a VIP member (月卡, joined without auto-renew and paid in the sandbox) logged in through
/accounts/login/ with the form's CSRF token, who also holds an API token. Tasks, by weight:

* browse 70 %: the home page, a category or product page, or GET /api/v1/products (one of the three, evenly);
* order 15 %: POST /api/v1/orders with the bearer token, then the channel pays it: Alipay's signed
  `trade_status_sync` notification (the sandbox gateway's key, as bench/checkout.py signs it) is posted to
  /payments/notify/alipay/ by a separate client without the member's cookies, and must be answered `success`;
* member centre 10 %: GET /member/ with the session cookie; the page must show the membership;
* cancel 5 %: another VIP member, from a seeded pool of members who joined without auto-renew, asks for the refund
  quote (GET /api/v1/membership/refund-quote) and cancels immediately with it (POST /api/v1/membership/cancel); the
  receipt's refund must equal the quote.

Stats (per request name and overall, with p50/p99) and task counts are written to KAMENG_LOAD_STATS at exit.
"""

import itertools
import json
import os
import random
import re
import sys
import time
from pathlib import Path

from locust import FastHttpUser, between, constant, events, task
from locust.contrib.fasthttp import FastHttpSession

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import alipay_paid_notification

SEED = (
    json.loads(Path(os.environ["KAMENG_LOAD_SEED"]).read_text()) if "KAMENG_LOAD_SEED" in os.environ else {}
)
SHOPPERS = itertools.cycle(SEED.get("shoppers", []))
LEAVERS = list(SEED.get("leavers", []))
TASKS = {"browse": 0, "order": 0, "member_centre": 0, "cancel": 0, "cancel_pool_empty": 0}
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
THINK = float(os.environ.get("KAMENG_LOAD_THINK", "0"))


class Member(FastHttpUser):
    wait_time = between(0, THINK) if THINK > 0 else constant(0)
    network_timeout = 60.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        account = next(SHOPPERS)
        self.token = account["token"]
        self.api = {"Authorization": f"Bearer {self.token}"}
        # The channel is another system: its notifications carry none of the member's cookies.
        self.channel = FastHttpSession(
            base_url=self.host,
            request_event=self.environment.events.request,
            user=self,
            network_timeout=self.network_timeout,
            connection_timeout=self.connection_timeout,
        )
        with self.client.get("/accounts/login/", name="GET /accounts/login/", catch_response=True) as page:
            found = CSRF.search(page.text or "")
            if not found:
                page.failure("no CSRF token on the login page")
                return
        with self.client.post(
            "/accounts/login/",
            data={
                "username": account["username"],
                "password": SEED["password"],
                "csrfmiddlewaretoken": found[1],
            },
            headers={"Referer": f"{self.host}/accounts/login/"},
            name="POST /accounts/login/",
            allow_redirects=False,
            catch_response=True,
        ) as answer:
            if answer.status_code != 302:
                answer.failure(f"login answered {answer.status_code}")

    @task(70)
    def browse(self) -> None:
        TASKS["browse"] += 1
        which = random.randrange(3)
        if which == 0:
            self.client.get("/", name="GET /")
        elif which == 1:
            if random.random() < 0.5:
                self.client.get(f"/c/{random.choice(SEED['categories'])}/", name="GET /c/[slug]/")
            else:
                self.client.get(f"/p/{random.choice(SEED['products'])}/", name="GET /p/[sku]/")
        else:
            self.client.get("/api/v1/products", name="GET /api/v1/products")

    @task(15)
    def order(self) -> None:
        TASKS["order"] += 1
        with self.client.post(
            "/api/v1/orders",
            json={"sku": random.choice(SEED["skus"]), "quantity": 1, "channel": "alipay"},
            headers=self.api,
            name="POST /api/v1/orders",
            catch_response=True,
        ) as placed:
            if placed.status_code != 201:
                placed.failure(f"{placed.status_code}: {(placed.text or '')[:200]}")
                return
            body = placed.json()
        with self.channel.post(
            "/payments/notify/alipay/",
            data=alipay_paid_notification(
                body["order_no"], body["amount_fen"], SEED["alipay_private_key"], SEED["alipay_app_id"]
            ),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            name="POST /payments/notify/alipay/",
            catch_response=True,
        ) as paid:
            if paid.status_code != 200 or paid.text != "success":
                paid.failure(f"{paid.status_code}: {(paid.text or '')[:200]}")

    @task(10)
    def member_centre(self) -> None:
        TASKS["member_centre"] += 1
        with self.client.get(
            "/member/", name="GET /member/", catch_response=True, allow_redirects=False
        ) as page:
            if page.status_code != 200 or 'id="membership"' not in (page.text or ""):
                page.failure(f"{page.status_code}: not the member's centre")

    @task(5)
    def cancel(self) -> None:
        if not LEAVERS:
            TASKS["cancel_pool_empty"] += 1
            return
        TASKS["cancel"] += 1
        leaver = LEAVERS.pop()
        api = {"Authorization": f"Bearer {leaver['token']}"}
        with self.client.get(
            "/api/v1/membership/refund-quote",
            headers=api,
            name="GET /api/v1/membership/refund-quote",
            catch_response=True,
        ) as answer:
            if answer.status_code != 200:
                answer.failure(f"{answer.status_code}: {(answer.text or '')[:200]}")
                return
            quote = answer.json()
        with self.client.post(
            "/api/v1/membership/cancel",
            json={"mode": "immediate", "reason": "not_using", "quote_id": quote["quote_id"]},
            headers=api,
            name="POST /api/v1/membership/cancel",
            catch_response=True,
        ) as answer:
            if answer.status_code != 200:
                answer.failure(f"{answer.status_code}: {(answer.text or '')[:200]}")
            elif answer.json()["refund_fen"] != quote["refund_fen"]:
                answer.failure(
                    f"refund {answer.json()['refund_fen']} differs from quote {quote['refund_fen']}"
                )


def _entry(e) -> dict:
    return {
        "name": e.name,
        "method": e.method,
        "requests": e.num_requests,
        "failures": e.num_failures,
        "requests_per_s": round(e.total_rps, 2),
        "p50_ms": e.get_response_time_percentile(0.5) if e.num_requests else 0,
        "p99_ms": e.get_response_time_percentile(0.99) if e.num_requests else 0,
        "avg_ms": round(e.avg_response_time, 1),
        "max_ms": round(e.max_response_time or 0, 1),
    }


@events.quitting.add_listener
def _save_stats(environment, **_kwargs) -> None:
    path = os.environ.get("KAMENG_LOAD_STATS")
    if not path:
        return
    stats = environment.stats
    report = {
        "entries": [_entry(e) for e in stats.entries.values()],
        "total": _entry(stats.total),
        "seconds": round((stats.total.last_request_timestamp or time.time()) - stats.total.start_time, 2),
        "errors": [
            {"method": e.method, "name": e.name, "error": str(e.error)[:300], "occurrences": e.occurrences}
            for e in stats.errors.values()
        ],
        "tasks": TASKS,
        "cancel_pool_left": len(LEAVERS),
    }
    Path(path).write_text(json.dumps(report, indent=2, ensure_ascii=False))
