"""Membership's figures at /metrics (registered with core.metrics in MembershipConfig.ready)."""

from collections.abc import Iterator

from django.db.models import Count, Sum
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from kameng.membership.models import Charge, Membership


def figures() -> Iterator[Metric]:
    renewals = CounterMetricFamily("kameng_renewal_charges", "Renewal charges by state", labels=["status"])
    for row in Charge.objects.filter(is_renewal=True).values("status").annotate(n=Count("id")):
        renewals.add_metric([row["status"]], row["n"])
    yield renewals
    tries = Charge.objects.filter(is_renewal=True).aggregate(n=Sum("attempts"))["n"] or 0
    yield CounterMetricFamily("kameng_renewal_attempts", "Tries at the channel for renewals", value=tries)

    members = GaugeMetricFamily("kameng_memberships", "Memberships by state", labels=["status"])
    for row in Membership.objects.values("status").annotate(n=Count("id")):
        members.add_metric([row["status"]], row["n"])
    yield members
