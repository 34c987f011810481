"""The expiry sweep: memberships without auto-renew end at their period end (lifetime plans never do), memberships
left past_due by the old retry rule end at once (docs/rules.md#renewal-schedule), and stale first orders are
abandoned so the member can choose again."""

from datetime import datetime

from django.db.models import Min, Q, QuerySet

from kameng.core import clock, sweeps
from kameng.membership import lifecycle
from kameng.membership.models import Membership

Status = Membership.Status
BATCH = 100


def expire_due_memberships(*, limit: int = 5000) -> int:
    """Memberships without auto-renew end at their period end; lifetime plans never do. Stale first orders are
    abandoned so the member can choose again."""
    ended = list(sweeps.lease_due(due=_due_ends, lease=_end_at_period_end, limit=limit, batch=BATCH))
    abandoned = list(sweeps.lease_due(due=_stale_first_orders, lease=_abandon, limit=BATCH, batch=BATCH))
    return len(ended) + len(abandoned)


def _running_out() -> QuerySet[Membership]:
    """Active without auto-renew, and memberships left past_due by the old retry rule (never renewed now)."""
    return Membership.objects.filter(Q(status=Status.ACTIVE, auto_renew=False) | Q(status=Status.PAST_DUE))


def _unpaid_first() -> QuerySet[Membership]:
    return Membership.objects.filter(status=Status.PENDING)


def next_expiry_due() -> datetime | None:
    period_end = _running_out().aggregate(at=Min("current_period_end"))["at"]
    created = _unpaid_first().aggregate(at=Min("created_at"))["at"]
    moments = [m for m in (period_end, created and created + lifecycle.ABANDON_AFTER) if m is not None]
    return min(moments, default=None)


def _due_ends() -> QuerySet[Membership]:
    return (
        _running_out()
        .select_related("plan", "user")
        .filter(current_period_end__lte=clock.now())
        .order_by("current_period_end")
    )


def _end_at_period_end(membership: Membership) -> Membership:
    reason = (
        lifecycle.ExpiryReason.RENEWAL_FAILED
        if membership.status == Status.PAST_DUE
        else lifecycle.ExpiryReason.PERIOD_END
    )
    lifecycle.expire(membership=membership, reason=reason)
    return membership


def _stale_first_orders() -> QuerySet[Membership]:
    return _unpaid_first().filter(created_at__lte=clock.now() - lifecycle.ABANDON_AFTER)


def _abandon(membership: Membership) -> Membership:
    lifecycle.abandon(membership=membership)
    return membership
