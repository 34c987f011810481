"""The operator dashboard's numbers. Each function returns rows (a header and lists), so the same data feeds the
chart, the table beside it and its CSV export."""

import statistics
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, F, Min, Q, Sum
from django.db.models.functions import TruncDate, TruncWeek

from kameng.accounts.models import User
from kameng.core import clock
from kameng.core.models import AuditLog
from kameng.membership.models import Agreement, Cancellation, Charge, Membership, Reminder
from kameng.orders.models import Order
from kameng.payments import ledger
from kameng.payments.models import LedgerLine, Payment, Refund
from kameng.support.models import Ticket


@dataclass(frozen=True)
class Filters:
    start: date
    end: date  # inclusive
    plan: str = ""  # plan code, or all

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=clock.SHANGHAI)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=clock.SHANGHAI)


@dataclass(frozen=True)
class Table:
    title: str
    header: list[str]
    rows: list[list]


def default_filters() -> Filters:
    today = clock.now().date()
    return Filters(start=today - timedelta(days=29), end=today)


def _plan(query, field: str, filters: Filters):
    return query.filter(**{field: filters.plan}) if filters.plan else query


def active_members_by_plan(filters: Filters) -> Table:
    rows = (
        _plan(Membership.objects.filter(status=Membership.Status.ACTIVE), "plan__code", filters)
        .values("plan__name")
        .annotate(n=Count("id"))
        .order_by("-n", "plan__name")
    )
    return Table("active_members", ["plan", "active members"], [[r["plan__name"], r["n"]] for r in rows])


def new_vs_cancelled_by_week(filters: Filters) -> Table:
    week = TruncWeek("at", tzinfo=clock.SHANGHAI)
    joined = (
        _plan(
            Charge.objects.filter(period_index=0, status=Charge.Status.SUCCEEDED),
            "membership__plan__code",
            filters,
        )
        .filter(succeeded_at__gte=filters.since, succeeded_at__lt=filters.until)
        .annotate(at=F("succeeded_at"))
        .annotate(week=week)
        .values("week")
        .annotate(n=Count("id"))
    )
    left = (
        _plan(Cancellation.objects.all(), "membership__plan__code", filters)
        .filter(received_at__gte=filters.since, received_at__lt=filters.until)
        .annotate(at=F("received_at"))
        .annotate(week=week)
        .values("week")
        .annotate(n=Count("id"))
    )
    weeks: dict = {}
    for row in joined:
        weeks.setdefault(clock.local(row["week"]).date(), [0, 0])[0] = row["n"]
    for row in left:
        weeks.setdefault(clock.local(row["week"]).date(), [0, 0])[1] = row["n"]
    return Table(
        "new_vs_cancelled", ["week", "new", "cancelled"], [[w.isoformat(), *weeks[w]] for w in sorted(weeks)]
    )


def churn(filters: Filters) -> Table:
    """Cancellations in the range per member who was active at its start (or joined during it)."""
    members = _plan(Membership.objects.all(), "plan__code", filters).filter(
        Q(current_period_start__lt=filters.until)
        & (Q(ended_at__isnull=True) | Q(ended_at__gte=filters.since))
    )
    base = members.exclude(status__in=[Membership.Status.PENDING, Membership.Status.ABANDONED]).count()
    cancelled = (
        _plan(Cancellation.objects.all(), "membership__plan__code", filters)
        .filter(received_at__gte=filters.since, received_at__lt=filters.until)
        .values("membership")
        .distinct()
        .count()
    )
    rate = round(100 * cancelled / base, 1) if base else 0.0
    return Table("churn", ["members in range", "cancelled", "churn %"], [[base, cancelled, rate]])


def cancellations_by_reason_and_mode(filters: Filters) -> Table:
    rows = (
        _plan(Cancellation.objects.all(), "membership__plan__code", filters)
        .filter(received_at__gte=filters.since, received_at__lt=filters.until)
        .values("mode", "reason", "source")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
    reasons, modes = dict(Cancellation.Reason.choices), dict(Cancellation.Mode.choices)
    sources = dict(Cancellation.Source.choices)
    return Table(
        "cancellations",
        ["mode", "reason", "via", "count"],
        [
            [str(modes[r["mode"]]), str(reasons.get(r["reason"], "—")), str(sources[r["source"]]), r["n"]]
            for r in rows
        ],
    )


def refunds(filters: Filters) -> Table:
    chosen = Refund.objects.filter(created_at__gte=filters.since, created_at__lt=filters.until)
    if filters.plan:
        chosen = chosen.filter(
            payment__order__membership_attempt__charge__membership__plan__code=filters.plan
        )
    done = [
        (r.succeeded_at - r.created_at).total_seconds() / 3600
        for r in chosen.filter(status=Refund.Status.SUCCEEDED).only("created_at", "succeeded_at")
    ]
    total = chosen.aggregate(n=Count("id"), fen=Sum("amount_fen"))
    median = round(statistics.median(done), 2) if done else None
    return Table(
        "refunds",
        ["refunds", "amount fen", "paid back", "median hours to refund"],
        [[total["n"], total["fen"] or 0, len(done), median]],
    )


def renewals(filters: Filters) -> Table:
    charges = _plan(Charge.objects.filter(is_renewal=True), "membership__plan__code", filters).filter(
        created_at__gte=filters.since, created_at__lt=filters.until
    )
    counts = charges.aggregate(
        total=Count("id"),
        ok=Count("id", filter=Q(status=Charge.Status.SUCCEEDED)),
        failed=Count("id", filter=Q(status=Charge.Status.FAILED)),
        retried=Count("id", filter=Q(attempts__gt=1)),
    )
    rate = round(100 * counts["ok"] / counts["total"], 1) if counts["total"] else None
    return Table(
        "renewals",
        ["renewals due", "succeeded", "failed for good", "needed a retry", "success %"],
        [[counts["total"], counts["ok"], counts["failed"], counts["retried"], rate]],
    )


def reminder_compliance(filters: Filters) -> Table:
    """Of the renewal charges taken in the range, how many had a reminder sent at least 5 days before: 100 %."""
    taken = list(
        _plan(
            Charge.objects.filter(is_renewal=True, status=Charge.Status.SUCCEEDED),
            "membership__plan__code",
            filters,
        )
        .filter(succeeded_at__gte=filters.since, succeeded_at__lt=filters.until)
        .values_list("membership_id", "period_index", "succeeded_at")
    )
    first_sent = {
        (row["membership_id"], row["period_index"]): row["first"]
        for row in Reminder.objects.filter(membership_id__in={m for m, _, _ in taken})
        .values("membership_id", "period_index")
        .annotate(first=Min("sent_at"))
    }
    ok = sum(
        1
        for membership, cycle, at in taken
        if (sent := first_sent.get((membership, cycle))) is not None and sent <= at - timedelta(days=5)
    )
    rate = round(100 * ok / len(taken), 1) if taken else None
    return Table(
        "reminders", ["charges", "reminded ≥ 5 days before", "compliance %"], [[len(taken), ok, rate]]
    )


def support_sla(filters: Filters) -> Table:
    tickets = Ticket.objects.filter(created_at__gte=filters.since, created_at__lt=filters.until)
    counts = tickets.aggregate(
        n=Count("id"),
        in_time=Count("id", filter=Q(resolved_at__isnull=False, resolved_at__lte=F("due_at"))),
        late=Count("id", filter=Q(overdue_at__isnull=False)),
    )
    rate = round(100 * counts["in_time"] / counts["n"], 1) if counts["n"] else None
    return Table(
        "support_sla",
        ["tickets", "resolved in time", "overdue", "SLA %"],
        [[counts["n"], counts["in_time"], counts["late"], rate]],
    )


def revenue_by_day(filters: Filters) -> Table:
    lines = (
        LedgerLine.objects.filter(
            account__in=[ledger.SALES, ledger.MEMBERSHIP_REVENUE],
            entry__at__gte=filters.since,
            entry__at__lt=filters.until,
        )
        .annotate(day=TruncDate("entry__at", tzinfo=clock.SHANGHAI))
        .values("day", "account")
        .annotate(fen=Sum("amount_fen"))
    )
    days: dict = {}
    for row in lines:  # revenue is a credit (negative): shown as a positive amount
        column = 0 if row["account"] == ledger.SALES else 1
        days.setdefault(row["day"], [0, 0])[column] -= row["fen"]
    return Table(
        "revenue", ["day", "sales fen", "membership fen"], [[d.isoformat(), *days[d]] for d in sorted(days)]
    )


TABLES = {
    "active_members": active_members_by_plan,
    "new_vs_cancelled": new_vs_cancelled_by_week,
    "churn": churn,
    "cancellations": cancellations_by_reason_and_mode,
    "refunds": refunds,
    "renewals": renewals,
    "reminders": reminder_compliance,
    "support_sla": support_sla,
    "revenue": revenue_by_day,
}


def member_timeline(*, username: str, limit: int = 500):
    """Everything that happened to one member, oldest first: their audit trail across orders, payments, refunds,
    memberships, agreements and tickets. None for an unknown member."""
    user = User.objects.filter(username=username).first()
    if user is None:
        return None
    owned = {
        "orders.order": Order.objects.filter(user=user),
        "payments.payment": Payment.objects.filter(order__user=user),
        "payments.refund": Refund.objects.filter(payment__order__user=user),
        "membership.membership": Membership.objects.filter(user=user),
        "membership.agreement": Agreement.objects.filter(membership__user=user),
        "support.ticket": Ticket.objects.filter(user=user),
    }
    about_them = Q(actor=user)
    for object_type, rows in owned.items():
        ids = [str(pk) for pk in rows.values_list("pk", flat=True)]
        if ids:
            about_them |= Q(object_type=object_type, object_id__in=ids)
    events = list(AuditLog.objects.filter(about_them).select_related("actor").order_by("-at", "-id")[:limit])
    return user, list(reversed(events))


AGREEMENTS_PER_PAGE = 50
AGREEMENT_CHANNELS = ("alipay", "wechat")


@dataclass(frozen=True)
class AgreementFilters:
    status: str = ""  # an Agreement.Status value, or all
    channel: str = ""  # alipay / wechat, or all


def agreement_filters(*, status: str, channel: str) -> AgreementFilters:
    """From the query string; an unknown status or channel means all."""
    return AgreementFilters(
        status=status if status in Agreement.Status.values else "",
        channel=channel if channel in AGREEMENT_CHANNELS else "",
    )


def agreements(*, filters: AgreementFilters, page: str | int = 1):
    """Payment agreements (代扣协议), newest first, one page of them, with member and plan."""
    from django.core.paginator import Paginator

    rows = Agreement.objects.select_related("membership__user", "membership__plan").order_by(
        "-created_at", "-id"
    )
    if filters.status:
        rows = rows.filter(status=filters.status)
    if filters.channel:
        rows = rows.filter(channel=filters.channel)
    return Paginator(rows, AGREEMENTS_PER_PAGE).get_page(page)
