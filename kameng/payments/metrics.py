"""Payments' figures at /metrics (registered with core.metrics in PaymentsConfig.ready)."""

from collections.abc import Iterator

from django.db.models import Count, Sum
from prometheus_client.core import CounterMetricFamily, Metric

from kameng.payments.models import Refund


def figures() -> Iterator[Metric]:
    refunds = CounterMetricFamily(
        "kameng_refunds", "Refunds by state and reason", labels=["status", "reason"]
    )
    refunded = CounterMetricFamily("kameng_refunds_fen", "Refunded money in fen", labels=["status"])
    fen_by_status: dict[str, int] = {}
    for row in Refund.objects.values("status", "reason").annotate(n=Count("id"), fen=Sum("amount_fen")):
        refunds.add_metric([row["status"], row["reason"]], row["n"])
        fen_by_status[row["status"]] = fen_by_status.get(row["status"], 0) + row["fen"]
    for status, fen in fen_by_status.items():
        refunded.add_metric([status], fen)
    yield refunds
    yield refunded
