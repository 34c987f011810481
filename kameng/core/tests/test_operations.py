"""What an operator running Kameng in production relies on: probes, metrics, logs, the production profile."""

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from prometheus_client import REGISTRY

from kameng.core import sweeps
from kameng.core.logging import JsonFormatter
from kameng.core.models import SweepStat
from kameng.core.outbox import enqueue
from kameng.core.roles import Role
from kameng.membership import cancellation
from kameng.notifications.services import EMAIL_TOPIC
from tests.factories import PlanFactory, UserFactory, join_vip, settle

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.django_db


def test_readiness_checks_the_database_and_migrations():
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}


def test_readiness_fails_with_503_when_the_broker_is_unreachable(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("unreachable")


def test_metrics_report_requests_and_the_shop_from_the_database():
    plan = PlanFactory(code="month", price_fen=3000)
    join_vip(UserFactory(), plan)
    leaver = UserFactory()
    join_vip(leaver, plan)
    cancellation.cancel_membership(user=leaver, mode="immediate", reason="mistaken_purchase")
    settle()
    enqueue(topic=EMAIL_TOPIC, payload={}, delay_seconds=3600)  # waits an hour: still in the backlog
    client = Client()
    healthz = {"method": "GET", "route": "/healthz", "status": "200"}
    before = REGISTRY.get_sample_value("kameng_http_requests_total", healthz) or 0  # counted per process
    client.get("/healthz")
    body = client.get("/metrics").content.decode()
    assert REGISTRY.get_sample_value("kameng_http_requests_total", healthz) == before + 1
    assert f'kameng_http_requests_total{{method="GET",route="/healthz",status="200"}} {before + 1}' in body
    assert 'kameng_memberships{status="active"} 1.0' in body
    assert 'kameng_refunds_total{reason="membership_cancelled",status="succeeded"} 1.0' in body
    assert 'kameng_refunds_fen_total{status="succeeded"} 3000.0' in body
    assert 'kameng_outbox_messages{status="pending"} 1.0' in body
    assert 'kameng_sweep_runs_total{sweep="outbox"}' in body


def test_metrics_are_refused_through_the_proxy_and_to_other_addresses_without_the_token(settings):
    settings.KAMENG_METRICS_TOKEN = "scrape-secret"
    assert Client(HTTP_X_FORWARDED_FOR="203.0.113.9").get("/metrics").status_code == 404
    assert Client(REMOTE_ADDR="203.0.113.9").get("/metrics").status_code == 404
    allowed = Client(REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer scrape-secret").get("/metrics")
    assert allowed.status_code == 200


def test_each_sweep_run_is_counted_with_its_duration():
    sweeps.run_due_sweeps()
    sweeps.run_due_sweeps()
    stat = SweepStat.objects.get(name="outbox")
    assert stat.runs == 2 and stat.last_started_at is not None


def test_json_log_lines_carry_the_extra_fields():
    record = logging.makeLogRecord(
        {"name": "kameng.request", "levelname": "INFO", "msg": "GET %s", "args": ("/",), "route": "/"}
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "GET /" and line["route"] == "/" and line["level"] == "INFO"
    assert line["time"].endswith("+00:00")


def test_pages_carry_a_content_security_policy_without_unsafe_inline():
    header = Client().get("/").headers["Content-Security-Policy"]
    assert "default-src 'self'" in header and "object-src 'none'" in header
    assert "unsafe-inline" not in header


def test_the_dashboard_charts_styles_carry_the_nonce_the_policy_names():
    client = Client()
    client.force_login(UserFactory(role=Role.OPERATOR))
    page = client.get("/console/")
    nonce = re.search(r"'nonce-([^']+)'", page.headers["Content-Security-Policy"]).group(1)
    styles = re.findall(r"<style[^>]*>", page.content.decode())
    assert styles and all(f'nonce="{nonce}"' in tag for tag in styles)


def _production(*args: str, **env: str) -> subprocess.CompletedProcess:
    # A real deployment's environment: none of the test run's own switches (the browser tests allow async-unsafe).
    inherited = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    environment = {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "config.settings",  # the deployed settings, not the test run's
        "KAMENG_ENV": "production",
        "DJANGO_SECRET_KEY": "production-test-only-" + "x" * 50,
        "KAMENG_CARD_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        "DJANGO_ALLOWED_HOSTS": "shop.example.com",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15",
        "KAMENG_LOG_LEVEL": "ERROR",
        **env,
    }
    return subprocess.run(  # noqa: S603 (our own manage.py)
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True
    )


def test_the_production_profile_passes_djangos_deployment_checks():
    result = _production("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr


def test_the_production_profile_refuses_to_start_without_its_secrets():
    result = _production("check", DJANGO_SECRET_KEY="")
    assert result.returncode != 0 and "DJANGO_SECRET_KEY must be set in production" in result.stderr


def test_the_production_profile_refuses_a_broker_only_one_machine_can_see():
    result = _production("check", CELERY_BROKER_URL="")
    assert result.returncode != 0 and "CELERY_BROKER_URL must name the broker" in result.stderr


def test_the_production_profile_refuses_debug():
    result = _production("check", DJANGO_DEBUG="1")
    assert result.returncode != 0 and "DJANGO_DEBUG must be off" in result.stderr


def test_production_answers_over_https_only_with_hsts_and_secure_cookies():
    script = (
        "from django.test import Client; c = Client(); "
        "plain = c.get('/', HTTP_HOST='shop.example.com'); "
        "tls = c.get('/accounts/login/', HTTP_HOST='shop.example.com', HTTP_X_FORWARDED_PROTO='https'); "
        "probe = c.get('/healthz', HTTP_HOST='shop.example.com'); "
        "print(plain.status_code, plain.headers.get('Location')); "
        "print(tls.status_code, tls.headers.get('Strict-Transport-Security')); "
        "print(tls.cookies['csrftoken']['secure']); print(probe.status_code)"
    )
    result = _production("shell", "--no-imports", "-c", script)
    assert result.stdout.split("\n")[:4] == [
        "301 https://shop.example.com/",
        "200 max-age=31536000; includeSubDomains",
        "True",
        "200",
    ], result.stderr


def test_pages_and_probes_answer_head_as_monitors_send_it():
    client = Client()
    assert client.head("/").status_code == 200
    assert client.head("/healthz").status_code == 200


def test_every_model_change_has_its_migration():
    """A model edited without its migration would deploy a schema the code does not match."""
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
