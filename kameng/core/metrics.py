"""Prometheus metrics at /metrics.

Two kinds: request counts and latencies, counted in each web process (gunicorn's workers share them through
PROMETHEUS_MULTIPROC_DIR, set by `make serve-prod`); and the shop's business figures (renewals, refunds, outbox
backlog, sweeps), read from the database at scrape time, so every web node reports the same truth whichever worker
did the work.
"""

import ipaddress
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator

from django.conf import settings
from django.db.models import Count, Max, Min
from django.http import Http404, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from kameng.core import client, clock
from kameng.core.models import OutboxMessage, SweepStat

log = logging.getLogger("kameng.request")
KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
REQUESTS = Counter("kameng_http_requests", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram(
    "kameng_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def _route(request) -> str:
    # The URL pattern the request matched, not its path: /orders/<order_no>/ is one series, not one per order.
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return "/" + match.route if match.route else match.view_name or "unknown"


class RequestMetrics:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        route = _route(request)
        LATENCY.labels(route).observe(elapsed)
        method = request.method if request.method in KNOWN_METHODS else "other"  # clients choose it: bound it
        REQUESTS.labels(method, route, str(response.status_code)).inc()
        if settings.KAMENG_LOG_REQUESTS:
            log.info(
                "%s %s %s",
                request.method,
                request.path_info,
                response.status_code,
                extra={
                    "route": route,
                    "status": response.status_code,
                    "duration_ms": round(elapsed * 1000, 1),
                },
            )
        return response


Figures = Callable[[], Iterable[Metric]]
_figures: dict[str, Figures] = {}


def register(name: str, figures: Figures) -> None:
    """Apps add their business figures in AppConfig.ready(): each owns the queries over its own tables."""
    _figures[name] = figures


class BusinessCollector:
    """Figures from the database, read when Prometheus scrapes."""

    def collect(self):
        for figures in _figures.values():
            yield from figures()


def core_figures() -> Iterator[Metric]:
    """The outbox backlog and the sweeps' runs: core's own tables."""
    backlog = GaugeMetricFamily("kameng_outbox_messages", "Outbox messages not delivered", labels=["status"])
    counts = dict(
        OutboxMessage.objects.exclude(status=OutboxMessage.Status.DELIVERED)
        .values_list("status")
        .annotate(n=Count("id"))
    )
    for status in (OutboxMessage.Status.PENDING, OutboxMessage.Status.DEAD):
        backlog.add_metric([status], counts.get(status, 0))
    yield backlog
    oldest = OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING).aggregate(t=Min("created_at"))
    age = (clock.now() - oldest["t"]).total_seconds() if oldest["t"] else 0
    yield GaugeMetricFamily(
        "kameng_outbox_oldest_pending_seconds", "Age of the oldest undelivered side effect", value=age
    )

    runs = CounterMetricFamily("kameng_sweep_runs", "Sweep runs", labels=["sweep"])
    items = CounterMetricFamily("kameng_sweep_items", "Items handled by sweeps", labels=["sweep"])
    duration = GaugeMetricFamily(
        "kameng_sweep_last_duration_seconds", "Last run's duration", labels=["sweep"]
    )
    started = GaugeMetricFamily(
        "kameng_sweep_last_run_timestamp_seconds", "Last run's start", labels=["sweep"]
    )
    for stat in SweepStat.objects.all():
        runs.add_metric([stat.name], stat.runs)
        items.add_metric([stat.name], stat.items)
        duration.add_metric([stat.name], stat.last_duration_ms / 1000)
        if stat.last_started_at:
            started.add_metric([stat.name], stat.last_started_at.timestamp())
    yield from (runs, items, duration, started)
    newest = SweepStat.objects.aggregate(t=Max("last_started_at"))["t"]
    yield GaugeMetricFamily(
        "kameng_sweeps_seconds_since_last_run",
        "Seconds since any sweep last ran: a stopped worker or beat shows here",
        value=(clock.now() - newest).total_seconds() if newest else -1,
    )


def _allowed(request) -> bool:
    token = settings.KAMENG_METRICS_TOKEN
    if token and request.headers.get("Authorization") == f"Bearer {token}":
        return True
    if client.came_through_proxy(request):
        # Passed on by a proxy (trusted or not: a proxy on loopback nobody listed in FORWARDED_ALLOW_IPS would
        # otherwise make every outside request look local): only the token lets it in.
        return False
    address = client.resolve(request)
    if address is None:
        return False
    return any(address in ipaddress.ip_network(net) for net in settings.KAMENG_METRICS_ALLOW)


def metrics_view(request):
    """Scraped by Prometheus from the allowed networks (default: loopback) or with the metrics bearer token."""
    if not _allowed(request):
        raise Http404
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    body = generate_latest(registry) + generate_latest(_business_registry())
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


def _business_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BusinessCollector())
    return registry
