"""A real Celery worker on Redis delivers the sandbox notification and the shop delivers the keys."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.test import Client

from kameng.orders.models import Order
from tests.factories import UserFactory, place_order, stocked_product

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def test_a_real_worker_on_redis_delivers_the_payment_notification(
    redis_broker, worker_database_url, kameng_process_env, live_server, settings
):
    from config.celery import app

    app.conf.task_always_eager = False
    settings.KAMENG_PUBLIC_URL = live_server.url
    settings.KAMENG_HTTP_INPROCESS = False
    product = stocked_product(keys=1)
    order = place_order(UserFactory(), product)
    env = {
        **kameng_process_env,
        "CELERY_BROKER_URL": redis_broker,
        "KAMENG_PUBLIC_URL": live_server.url,
        "KAMENG_HTTP_INPROCESS": "0",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "DATABASE_URL": worker_database_url,
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        response = Client().post(f"/sandbox/pay/{order.order_no}")  # queues the notification task on Redis
        assert response.status_code == 200
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            order.refresh_from_db()
            if order.status == Order.Status.DELIVERED:
                break
            time.sleep(0.3)
        assert order.status == Order.Status.DELIVERED
    finally:
        worker.terminate()
        output = worker.communicate(timeout=20)[0].decode(errors="replace")
        app.conf.task_always_eager = True
    assert "Traceback" not in output, output
