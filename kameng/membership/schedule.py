"""The renewal schedule: one planned charge date per cycle, the same one the member is shown, the agreement is
signed with, the reminders name and the renewal sweep honours (docs/rules.md#renewal-schedule).

Pure functions of a membership's figures, in Beijing time:

* charge day      = min(day of month the member subscribed, 28): a day every month has (Alipay's MONTH rule needs
                    execute_time on day 1–28).
* planned date C  = the latest date on or before the period's end whose day is the charge day: the period end's
                    date for charge days ≤ 28, the 28th for a member who joined on the 29th–31st (the extra days
                    given, never taken).
* charge window   = the calendar days C-2, C-1 and C, 07:00–22:00 only. Alipay deducts from 5 days before its
                    planned date up to it; WeChat charges from the second day after its pre-deduction notice
                    (sent on C-4, a notice lasting 3 days), 07:00–22:00.
* attempts        = C-2, C-1 and C at the member's charge time: the anchor's time of day clamped into 07:00–21:00,
                    so that every attempt has an hour before the window closes.
* notice          = C-4 at the charge time (WeChat 预扣费通知; Alipay has none and answers at once).
* reminders       = the plan's days before C, at the charge time; the first at least 5 calendar days before the
                    first attempt (so at least 7 days before C).
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from kameng.core import clock
from kameng.membership.models import CHARGE_WINDOW_DAYS, MIN_FIRST_REMINDER_DAYS
from kameng.membership.periods import add_months

LAST_CHARGE_DAY = 28  # the last day of the month every month has
WINDOW_DAYS = CHARGE_WINDOW_DAYS  # attempts on C-2, C-1 and C
OPENS, CLOSES = (
    time(7, 0),
    time(22, 0),
)  # charges and notices only between, Beijing time (WeChat; ours for both)
LAST_ATTEMPT_TIME = time(21, 0)  # an attempt at the latest starts an hour before the window closes
NOTICE_DAYS_BEFORE = 4  # WeChat's notice on C-4: C-4 and C-3 its waiting period, C-2..C chargeable
NOTICE_WAIT_DAYS = 2  # WeChat: the notice's day and the next are the waiting period
DAY = timedelta(days=1)


def charge_day(subscribed_at: datetime) -> int:
    """The billing anchor: the day of month the member subscribed, at most 28."""
    return min(clock.local(subscribed_at).day, LAST_CHARGE_DAY)


def planned_date(*, period_end: datetime, day: int) -> date:
    """C: the latest date on or before the period end's (Beijing) date whose day of month is `day` (≤ 28)."""
    if not 1 <= day <= LAST_CHARGE_DAY:
        raise ValueError(f"a charge day is 1–{LAST_CHARGE_DAY}, not {day}")
    end = clock.local(period_end).date()
    if end.day >= day:
        return end.replace(day=day)
    previous = end.replace(day=1) - DAY
    return previous.replace(day=day)


def charge_time(anchor_at: datetime) -> time:
    """The member's time of day for notices, attempts and reminders: the anchor's, clamped into 07:00–21:00
    (to the minute)."""
    local = clock.local(anchor_at).time().replace(second=0, microsecond=0)
    return min(max(local, OPENS), LAST_ATTEMPT_TIME)


def at_time(day: date, moment: time) -> datetime:
    return datetime.combine(day, moment, tzinfo=clock.SHANGHAI)


def in_charge_hours(moment: datetime) -> bool:
    """07:00 ≤ Beijing time < 22:00: the only hours a charge or a notice is ever sent."""
    return OPENS <= clock.local(moment).time() < CLOSES


def next_charge_hours(moment: datetime) -> datetime:
    """`moment` if it is inside 07:00–22:00, else the next 07:00 (Beijing)."""
    if in_charge_hours(moment):
        return moment
    local = clock.local(moment)
    day = local.date() if local.time() < OPENS else local.date() + DAY
    return at_time(day, OPENS)


@dataclass(frozen=True)
class Cycle:
    """The schedule of one renewal: the charge for the period that starts at `period_end`."""

    planned: date  # C, the date the member is shown
    at: time  # the member's charge time
    period_end: datetime  # the end of the period being renewed (C is on or before it)

    @property
    def window_days(self) -> list[date]:
        return [self.planned - DAY * back for back in range(WINDOW_DAYS, -1, -1)]

    @property
    def window_opens(self) -> datetime:
        return at_time(self.planned - DAY * WINDOW_DAYS, OPENS)

    @property
    def window_closes(self) -> datetime:
        return at_time(self.planned, CLOSES)

    @property
    def first_attempt_at(self) -> datetime:
        return at_time(self.window_days[0], self.at)

    @property
    def last_attempt_at(self) -> datetime:
        return at_time(self.planned, self.at)

    @property
    def notice_at(self) -> datetime:
        return at_time(self.planned - DAY * NOTICE_DAYS_BEFORE, self.at)

    @property
    def last_notice_day(self) -> date:
        """A notice sent later than this leaves no chargeable day inside the window (WeChat's waiting period)."""
        return self.planned - DAY * NOTICE_WAIT_DAYS

    def chargeable_days(self, *, announced_on: date) -> list[date]:
        """The window's days a charge may be made on, given the day the channel was told (its waiting period)."""
        return [day for day in self.window_days if day >= announced_on + DAY * NOTICE_WAIT_DAYS]

    def attempt_times(self, *, announced_on: date | None = None) -> list[datetime]:
        """When the sweep tries: once a day at the charge time, on each chargeable day (all three by default)."""
        days = self.window_days if announced_on is None else self.chargeable_days(announced_on=announced_on)
        return [at_time(day, self.at) for day in days]

    def reminder_at(self, days_before: int) -> datetime:
        """The moment of the reminder sent `days_before` days before C."""
        return at_time(self.planned - DAY * days_before, self.at)

    def reminder_deadline(self) -> date:
        """The last date on which the first reminder may be sent (5 days before the first attempt)."""
        return self.window_days[0] - DAY * MIN_FIRST_REMINDER_DAYS

    def may_charge(self, moment: datetime, *, announced_on: date) -> bool:
        """Whether a charge may be sent at `moment`: a chargeable day of the window, 07:00–22:00."""
        return clock.local(moment).date() in self.chargeable_days(
            announced_on=announced_on
        ) and in_charge_hours(moment)

    def may_announce(self, moment: datetime) -> bool:
        """Whether the notice may be sent at `moment`: from C-4 (its planned day) until the last day that still
        leaves a chargeable day, 07:00–22:00."""
        day = clock.local(moment).date()
        return self.notice_at.date() <= day <= self.last_notice_day and in_charge_hours(moment)

    def next_notice_moment(self, after: datetime) -> datetime | None:
        """The first moment at or after `after` at which the notice may be sent; None once too late."""
        if after < self.notice_at:
            return self.notice_at
        if self.may_announce(after):
            return after
        return self._next_opening(after, last_day=self.last_notice_day)

    def next_hours_moment(self, after: datetime, *, announced_on: date) -> datetime | None:
        """The first moment at or after `after` inside a chargeable day's 07:00–22:00 (to ask again about an
        attempt whose answer was lost, under its own number); None once the window is over."""
        if self.may_charge(after, announced_on=announced_on):
            return after
        days = self.chargeable_days(announced_on=announced_on)
        local = clock.local(after)
        for day in days:
            if day == local.date() and local.time() < OPENS:
                return at_time(day, OPENS)
            if day > local.date():
                return at_time(day, OPENS)
        return None

    def _next_opening(self, after: datetime, *, last_day: date) -> datetime | None:
        local = clock.local(after)
        day = local.date() if local.time() < OPENS else local.date() + DAY
        return at_time(day, OPENS) if day <= last_day else None

    def next_charge_moment(
        self,
        after: datetime,
        *,
        announced_on: date,
        tried_on: set[date],
        not_before: datetime | None = None,
    ) -> datetime | None:
        """The next moment the sweep should try: now if `after` is at or past today's attempt time on an untried
        chargeable day and still inside 07:00–22:00, else the next untried chargeable day at the charge time; None
        when the window has nothing left. `not_before`: 5 × 24 hours after the first reminder, so that the floor
        holds to the hour too (a reminder sent late in its day moves that day's attempt later, or to the next
        day)."""
        local = clock.local(after)
        for day in self.chargeable_days(announced_on=announced_on):
            if day in tried_on or day < local.date():
                continue
            attempt = at_time(day, self.at)
            if not_before is not None and not_before > attempt:
                attempt = clock.local(not_before)
                if attempt.date() != day or not in_charge_hours(attempt):
                    continue
            if day == local.date() and attempt <= local:
                if in_charge_hours(local):
                    return local
                continue  # today's hours are over
            return attempt
        return None


def cycle(*, period_end: datetime, subscribed_at: datetime, anchor_at: datetime) -> Cycle:
    """The renewal of the period that ends at `period_end`."""
    return Cycle(
        planned=planned_date(period_end=period_end, day=charge_day(subscribed_at)),
        at=charge_time(anchor_at),
        period_end=period_end,
    )


def coming_cycle(membership) -> Cycle | None:
    """The renewal of the membership's current period (None: nothing to renew, e.g. lifetime or not started)."""
    if membership.current_period_end is None or membership.anchor_at is None:
        return None
    return cycle(
        period_end=membership.current_period_end,
        subscribed_at=membership.created_at,
        anchor_at=membership.anchor_at,
    )


def first_renewal_date(*, subscribed_at: datetime, period_months: int) -> date:
    """C of the first renewal for a member subscribing at `subscribed_at`: what the disclosure shows, the Alipay
    agreement's period_rule_params.execute_time and WeChat's signing terms. The first period runs from the first
    payment; paid the same day (or a few days later) its first renewal is still on this date."""
    return planned_date(period_end=add_months(subscribed_at, period_months), day=charge_day(subscribed_at))
