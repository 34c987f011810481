"""What one member may make support store: how often they file tickets, write in them and complain (rates), how
many tickets they keep open and how many bytes of screenshots they upload in 30 days (quotas).

A refusal that passes with time (a rate, the screenshot bytes) is `ratelimit.TooMany`: 429 with `Retry-After`. Too
many open tickets is a state, not a rate (409: support answering one makes room, waiting alone does not), and so is
a screenshot larger than the whole quota (422).

Each write checks twice: `look` before the slow part (decoding a screenshot), counting nothing, so that a member
past a limit costs us no image decoding; then `count` inside the write's transaction, under the member's lock
(`locking.lock_member`), which is the check that holds when the same member sends several requests at once. Staff
writing in a ticket are not limited.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Min, Sum

from kameng.core import clock, locking, ratelimit
from kameng.core.errors import DomainError
from kameng.support.error_codes import SupportErrorCode
from kameng.support.models import Ticket, TicketMessage

ATTACHMENT_WINDOW = timedelta(days=30)
MB = 1024 * 1024


@dataclass(frozen=True)
class Action:
    name: str  # the rate counter's action
    setting: str  # the settings name of its rate ("limit/seconds")
    code: SupportErrorCode

    @property
    def rate(self) -> ratelimit.Rate:
        return ratelimit.Rate.parse(getattr(settings, self.setting))


TICKET = Action("tickets", "KAMENG_RATE_TICKETS", SupportErrorCode.TOO_MANY_TICKETS)
REPLY = Action("ticket_replies", "KAMENG_RATE_TICKET_REPLIES", SupportErrorCode.TOO_MANY_REPLIES)
COMPLAINT = Action("complaints", "KAMENG_RATE_COMPLAINTS", SupportErrorCode.TOO_MANY_COMPLAINTS)


def _open_tickets(user) -> None:
    count = Ticket.objects.filter(user=user, status__in=Ticket.OPEN_STATES).count()
    if count >= settings.KAMENG_MAX_OPEN_TICKETS:
        # A state, not a rate (409, no Retry-After): no amount of waiting opens room, an answer from support does.
        raise DomainError(
            SupportErrorCode.TOO_MANY_OPEN_TICKETS, count=count, limit=settings.KAMENG_MAX_OPEN_TICKETS
        )


def _attachment_bytes(user, *, adding: int, moment: datetime) -> None:
    """The member's screenshots of the last 30 days (as stored) plus this one stay within the quota."""
    quota = settings.KAMENG_MEMBER_ATTACHMENT_BYTES
    if adding > quota:  # never fits, however long the member waits: not a limit to retry after
        raise DomainError(SupportErrorCode.ATTACHMENT_OVER_QUOTA, limit=round(quota / MB, 1))
    recent = TicketMessage.objects.filter(
        author=user, from_staff=False, attachment_bytes__gt=0, created_at__gt=moment - ATTACHMENT_WINDOW
    ).aggregate(used=Sum("attachment_bytes"), oldest=Min("created_at"))
    used = recent["used"] or 0
    if used + adding <= quota:
        return
    # Over the quota with this one fitting on its own: something was uploaded in the window, and room comes back
    # as the oldest of it leaves the window (perhaps not enough, but the earliest moment worth trying again).
    wait = (recent["oldest"] + ATTACHMENT_WINDOW - moment).total_seconds()
    raise ratelimit.TooMany(
        SupportErrorCode.ATTACHMENT_QUOTA,
        retry_after=wait,
        limit=quota // MB,
        used=round(used / MB, 1),
        days=max(1, -(-int(wait) // 86400)),
    )


def look(user, action: Action, *, attaching: bool) -> None:
    """Refuses now if the member is already past a limit this write would meet; counts nothing."""
    ratelimit.check(action=action.name, subject=ratelimit.member(user), rate=action.rate, code=action.code)
    if action is TICKET:
        _open_tickets(user)
    if attaching:
        _attachment_bytes(user, adding=1, moment=clock.now())


def count(user, action: Action, *, attachment_bytes: int = 0) -> None:
    """Inside the write's transaction, before it writes: takes the member's lock, counts the write against its
    rate, and checks the quotas it meets. A refusal (TooMany) rolls the count back with everything else."""
    locking.lock_member(user.pk)
    ratelimit.hit(action=action.name, subject=ratelimit.member(user), rate=action.rate, code=action.code)
    if action is TICKET:
        _open_tickets(user)
    if attachment_bytes:
        _attachment_bytes(user, adding=attachment_bytes, moment=clock.now())
