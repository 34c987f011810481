"""The renewal schedule's pure functions, checked against a computation written apart from them (dateutil's
relativedelta for the months, plain date arithmetic for the days) over anchors across month ends, leap years and
every period length (docs/rules.md#renewal-schedule)."""

from datetime import date, datetime, time, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given, settings
from hypothesis import strategies as st

from kameng.core.clock import SHANGHAI
from kameng.membership import schedule

MONTHS = {"month": 1, "quarter": 3, "year": 12}

# Anchors over four years (two leap Februaries), every day and minute of the day.
ANCHORS = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2029, 12, 31, 23, 59), timezones=st.just(SHANGHAI)
)


def at(y, m, d, h=10, mi=0):
    return datetime(y, m, d, h, mi, tzinfo=SHANGHAI)


def expected_planned(anchor: datetime, months: int, index: int) -> date:
    """C of the renewal after the index-th period, the independent way: the period end by relativedelta from the
    anchor, then the anchor's day capped at 28, stepped back a month while it would fall after the period end."""
    end = (anchor + relativedelta(months=months * (index + 1))).date()
    day = min(anchor.day, 28)
    candidate = date(end.year, end.month, day)
    if candidate > end:
        candidate = (end.replace(day=1) - timedelta(days=1)).replace(day=day)
    return candidate


@settings(max_examples=300, deadline=None)
@given(anchor=ANCHORS, period=st.sampled_from(list(MONTHS)), index=st.integers(min_value=0, max_value=30))
def test_planned_date_matches_an_independent_computation(anchor, period, index):
    months = MONTHS[period]
    end = anchor + relativedelta(months=months * (index + 1))
    cycle = schedule.cycle(period_end=end, subscribed_at=anchor, anchor_at=anchor)
    assert cycle.planned == expected_planned(anchor, months, index)
    assert cycle.planned <= end.date()  # never after the period end: extra days given, never taken
    assert cycle.planned.day == min(anchor.day, 28)  # a day every month has (Alipay MONTH: execute_time ≤ 28)
    assert (end.date() - cycle.planned).days <= 3  # at most the 29th–31st given


@settings(max_examples=300, deadline=None)
@given(anchor=ANCHORS, period=st.sampled_from(list(MONTHS)))
def test_every_renewal_of_a_period_plan_falls_on_the_signed_monthly_rule(anchor, period):
    """Alipay plans charges from execute_time every `period` months on the same day: so must we."""
    months = MONTHS[period]
    first = schedule.first_renewal_date(subscribed_at=anchor, period_months=months)
    for index in range(12):
        end = anchor + relativedelta(months=months * (index + 1))
        planned = schedule.cycle(period_end=end, subscribed_at=anchor, anchor_at=anchor).planned
        assert planned == first + relativedelta(months=months * index)


@settings(max_examples=200, deadline=None)
@given(
    subscribed=ANCHORS,
    delay=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)),
    period=st.sampled_from(list(MONTHS)),
)
def test_a_first_payment_days_after_subscribing_keeps_the_disclosed_date(subscribed, delay, period):
    """The disclosure and the agreement take the date at subscription; the period runs from the payment."""
    months = MONTHS[period]
    paid = subscribed + delay
    end = paid + relativedelta(months=months)
    planned = schedule.cycle(period_end=end, subscribed_at=subscribed, anchor_at=paid).planned
    assert planned == schedule.first_renewal_date(subscribed_at=subscribed, period_months=months)
    assert planned <= end.date()


@settings(max_examples=300, deadline=None)
@given(anchor=ANCHORS, period=st.sampled_from(list(MONTHS)))
def test_window_attempts_notice_and_reminders_sit_where_the_rules_put_them(anchor, period):
    end = anchor + relativedelta(months=MONTHS[period])
    cycle = schedule.cycle(period_end=end, subscribed_at=anchor, anchor_at=anchor)
    c = cycle.planned
    assert cycle.window_days == [c - timedelta(days=2), c - timedelta(days=1), c]
    attempts = cycle.attempt_times()
    assert [a.date() for a in attempts] == cycle.window_days
    for moment in attempts:
        assert time(7) <= moment.time() <= time(21)  # an hour before 22:00 at the latest
        assert moment.time() == min(max(anchor.time().replace(second=0, microsecond=0), time(7)), time(21))
    assert cycle.window_opens == datetime.combine(c - timedelta(days=2), time(7), tzinfo=SHANGHAI)
    assert cycle.window_closes == datetime.combine(c, time(22), tzinfo=SHANGHAI)
    assert cycle.notice_at.date() == c - timedelta(days=4) and time(7) <= cycle.notice_at.time() < time(22)
    # WeChat: the notice day and the next are its waiting period; the three after are chargeable.
    assert cycle.chargeable_days(announced_on=cycle.notice_at.date()) == cycle.window_days
    # The first reminder at least 5 calendar days before the first attempt.
    assert (attempts[0].date() - cycle.reminder_deadline()).days == 5
    assert cycle.reminder_at(7).date() == cycle.reminder_deadline()


def test_a_member_who_joined_on_the_31st_is_charged_on_the_28th_and_keeps_every_day():
    anchor = at(2027, 1, 31)
    march = schedule.cycle(period_end=at(2027, 3, 31), subscribed_at=anchor, anchor_at=anchor)
    assert march.planned == date(2027, 3, 28)
    assert march.attempt_times()[0] == at(2027, 3, 26)
    february = schedule.cycle(period_end=at(2028, 2, 29), subscribed_at=anchor, anchor_at=anchor)
    assert february.planned == date(2028, 2, 28)


def test_first_renewal_date_is_the_alipay_execute_time():
    assert schedule.first_renewal_date(subscribed_at=at(2027, 1, 15), period_months=1) == date(2027, 2, 15)
    assert schedule.first_renewal_date(subscribed_at=at(2027, 1, 30), period_months=1) == date(2027, 2, 28)
    assert schedule.first_renewal_date(subscribed_at=at(2027, 11, 30), period_months=3) == date(2028, 2, 28)
    assert schedule.first_renewal_date(subscribed_at=at(2028, 2, 29), period_months=12) == date(2029, 2, 28)


@pytest.mark.parametrize(
    ("anchor_time", "attempt_time"),
    [(time(0, 0), time(7)), (time(6, 59), time(7)), (time(7), time(7)), (time(21), time(21)),
     (time(21, 1), time(21)), (time(23, 59), time(21)), (time(13, 37, 45), time(13, 37))],
)  # fmt: skip
def test_charge_time_is_the_anchor_time_clamped_into_7_to_21(anchor_time, attempt_time):
    assert (
        schedule.charge_time(datetime.combine(date(2027, 5, 5), anchor_time, tzinfo=SHANGHAI)) == attempt_time
    )


def make_cycle(anchor_time=time(10)) -> schedule.Cycle:
    anchor = datetime.combine(date(2027, 4, 20), anchor_time, tzinfo=SHANGHAI)
    return schedule.cycle(period_end=anchor + relativedelta(months=1), subscribed_at=anchor, anchor_at=anchor)


NOTICE_DAY = date(2027, 5, 16)  # C = 2027-05-20


@pytest.mark.parametrize(
    ("moment", "allowed"),
    [(at(2027, 5, 17, 12), False),  # C-3: not yet
     (at(2027, 5, 18, 6, 59), False), (at(2027, 5, 18, 7), True), (at(2027, 5, 18, 21, 59), True),
     (at(2027, 5, 18, 22), False),  # 22:00 is outside
     (at(2027, 5, 20, 21, 59), True), (at(2027, 5, 21, 10), False)],  # C+1: never
)  # fmt: skip
def test_may_charge_only_inside_the_window_days_and_hours(moment, allowed):
    assert make_cycle().may_charge(moment, announced_on=NOTICE_DAY) is allowed


def test_a_late_notice_shortens_the_window_never_moves_it():
    cycle = make_cycle()
    assert cycle.chargeable_days(announced_on=date(2027, 5, 17)) == [date(2027, 5, 19), date(2027, 5, 20)]
    assert cycle.chargeable_days(announced_on=date(2027, 5, 18)) == [date(2027, 5, 20)]
    assert cycle.last_notice_day == date(2027, 5, 18)
    assert not cycle.may_announce(at(2027, 5, 19, 10))
    assert not cycle.may_announce(at(2027, 5, 15, 21))  # before C-4
    assert cycle.may_announce(at(2027, 5, 16, 7)) and not cycle.may_announce(at(2027, 5, 16, 22))


def test_next_charge_moment_is_once_a_day_at_the_charge_time_and_never_after_c():
    cycle = make_cycle()
    first = cycle.next_charge_moment(at(2027, 5, 17, 12), announced_on=NOTICE_DAY, tried_on=set())
    assert first == at(2027, 5, 18, 10)
    # The sweep woke late on C-2 but inside the hours: now.
    late = at(2027, 5, 18, 21, 30)
    assert cycle.next_charge_moment(late, announced_on=NOTICE_DAY, tried_on=set()) == late
    # After 22:00, the next day's attempt time.
    after = cycle.next_charge_moment(at(2027, 5, 18, 22), announced_on=NOTICE_DAY, tried_on=set())
    assert after == at(2027, 5, 19, 10)
    # Refused on C-2: the retry is C-1's attempt time, not earlier the same day.
    retry = cycle.next_charge_moment(
        at(2027, 5, 18, 10, 1), announced_on=NOTICE_DAY, tried_on={date(2027, 5, 18)}
    )
    assert retry == at(2027, 5, 19, 10)
    tried = {date(2027, 5, 18), date(2027, 5, 19), date(2027, 5, 20)}
    assert cycle.next_charge_moment(at(2027, 5, 20, 10, 1), announced_on=NOTICE_DAY, tried_on=tried) is None
    assert cycle.next_charge_moment(at(2027, 5, 20, 22), announced_on=NOTICE_DAY, tried_on=set()) is None
    assert cycle.next_charge_moment(at(2027, 5, 21, 8), announced_on=NOTICE_DAY, tried_on=set()) is None


def test_a_lost_answer_is_asked_again_only_inside_the_hours():
    cycle = make_cycle()
    assert cycle.next_hours_moment(at(2027, 5, 18, 22, 5), announced_on=NOTICE_DAY) == at(2027, 5, 19, 7)
    assert cycle.next_hours_moment(at(2027, 5, 19, 6), announced_on=NOTICE_DAY) == at(2027, 5, 19, 7)
    assert cycle.next_hours_moment(at(2027, 5, 20, 22), announced_on=NOTICE_DAY) is None


def test_a_charge_day_outside_1_to_28_is_refused():
    with pytest.raises(ValueError):
        schedule.planned_date(period_end=at(2027, 5, 31), day=29)


def test_an_attempt_waits_5_times_24_hours_after_the_first_reminder_within_its_day():
    cycle = make_cycle()
    kwargs = {"announced_on": NOTICE_DAY, "tried_on": set()}
    on_time = at(2027, 5, 13, 10)  # C-7 at the charge time
    assert cycle.next_charge_moment(
        at(2027, 5, 17, 12), not_before=on_time + timedelta(days=5), **kwargs
    ) == at(2027, 5, 18, 10)
    late = at(2027, 5, 13, 21, 30)  # sent late on C-7: C-2's attempt moves to 21:30
    assert cycle.next_charge_moment(at(2027, 5, 17, 12), not_before=late + timedelta(days=5), **kwargs) == at(
        2027, 5, 18, 21, 30
    )
    later = at(2027, 5, 13, 22, 30)  # after C-2's hours: C-1 at the charge time
    assert cycle.next_charge_moment(
        at(2027, 5, 17, 12), not_before=later + timedelta(days=5), **kwargs
    ) == at(2027, 5, 19, 10)
