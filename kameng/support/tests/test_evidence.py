"""The evidence bundle of a member with a long history: complete, in order, and read in a fixed number of queries."""

from datetime import timedelta

import pytest

from kameng.core import clock
from kameng.membership import cancellation
from kameng.membership.models import Reminder
from kameng.support import evidence, services
from tests.factories import PlanFactory, UserFactory, join_vip, settle

pytestmark = pytest.mark.django_db
# One query per kind of row: memberships (with plan and consent), charges, their tries, reminders, cancellations,
# payments, refunds, tickets, their messages, complaints, notices.
QUERIES = 11


def member_with_a_long_history(*, memberships: int, tickets: int):
    """Joins, is reminded, cancels at once (refunded) and joins again; files tickets with replies and complaints."""
    user = UserFactory()
    for _ in range(memberships):
        membership = join_vip(user, PlanFactory(price_fen=3000), auto_renew=True)
        for days_before in (7, 3):
            Reminder.objects.create(
                membership=membership,
                period_index=1,
                days_before=days_before,
                charge_at=membership.current_period_end,
                amount_fen=membership.price_fen,
                sent_at=membership.current_period_end - timedelta(days=days_before),
            )
        cancellation.cancel_membership(user=user, mode="immediate")
        settle()
        clock.advance(seconds=60)
    for n in range(tickets):
        ticket = services.file_ticket(user=user, category="other", reason=f"问题 {n}")
        services.reply(user=user, ticket_no=ticket.ticket_no, body=f"补充 {n}")
        services.file_complaint(user=user, about="ticket", about_ref=ticket.ticket_no, text=f"太慢 {n}")
    return user


def test_the_bundle_takes_the_same_few_queries_however_long_the_history(django_assert_max_num_queries):
    user = member_with_a_long_history(memberships=3, tickets=4)
    with django_assert_max_num_queries(QUERIES):
        bundle = evidence.history(user=user)
    assert len(bundle["memberships"]) == 3 and len(bundle["tickets"]) == 4 and len(bundle["complaints"]) == 4


def test_a_long_history_lists_every_row_in_time_order():
    user = member_with_a_long_history(memberships=2, tickets=2)
    bundle = evidence.history(user=user)
    first, second = bundle["memberships"]
    assert first["created_at"] < second["created_at"]
    for membership in (first, second):
        assert membership["consent"]["price_fen"] == 3000
        assert [c["period"] for c in membership["charges"]] == [0]
        assert len(membership["charges"][0]["orders"]) == 1
        assert [r["days_before"] for r in membership["reminders"]] == [7, 3]  # by when they were sent
        [receipt] = membership["cancellations"]
        assert receipt["mode"] == "immediate" and receipt["refund_status"] != "none"
    assert len(bundle["payments"]) == 2 and len(bundle["refunds"]) == 2
    assert [t["messages"][-1]["text"] for t in bundle["tickets"]] == ["补充 0", "补充 1"]
    assert [c["text"] for c in bundle["complaints"]] == ["太慢 0", "太慢 1"]
