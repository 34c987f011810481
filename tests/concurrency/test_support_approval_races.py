"""A support approval racing the member's VIP purchase, on PostgreSQL: the approval decides the refund under the
membership's lock, after the purchase committed, so the agent is shown the new quote instead of paying the old one.

The approval used to compare the agent's amount with the policy before locking anything; now the quote the agent
was shown (`quote_id`) is checked by the member's own cancel, under the ticket's and then the membership's lock
(docs/rules.md#a-support-approval-is-held-to-the-quote-the-agent-saw). `interleave` (test_lock_order) holds the
membership while the payment of a VIP-priced order runs, and sees the approval queue behind it without deadlocking.
"""

import re

import pytest
from django.test import Client

from kameng.core.roles import Role
from kameng.membership.models import Cancellation, Membership
from kameng.orders.models import Order
from kameng.payments.models import Refund
from kameng.support import services as support
from tests.concurrency.test_lock_order import interleave, payment_notification
from tests.factories import PlanFactory, UserFactory, join_vip, place_order, stocked_product

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_an_approval_queued_behind_a_vip_payment_is_asked_again_and_refunds_nothing(caplog):
    member = UserFactory()
    membership = join_vip(
        member, PlanFactory(name="年卡", period="year", price_fen=36500, discount_percent=10)
    )
    proof = Order.objects.get(user=member, kind=Order.Kind.MEMBERSHIP).order_no
    ticket = support.file_ticket(user=member, category="refund", order_no=proof, reason="误购")
    order = place_order(member, stocked_product(keys=10, price_fen=1999), quantity=10)
    agent = Client()
    agent.force_login(UserFactory(role=Role.SUPPORT))
    page = agent.get(f"/support/tickets/{ticket.ticket_no}/").content.decode()
    assert "¥365.00" in page  # the unpaid order is no saving yet: a full refund is quoted
    seen = re.search(r'name="quote_id" value="([^"]+)"', page).group(1)

    def approve():
        return agent.post(
            f"/support/tickets/{ticket.ticket_no}/decide/",
            {"decision": "approve", "mode": "immediate", "quote_id": seen},
        )

    _, answer = interleave(
        membership, payment_notification(order.order_no, order.amount_fen), approve, caplog
    )

    assert answer.status_code == 409 and 'id="stale-quote"' in answer.content.decode()
    assert "¥344.00" in answer.content.decode()
    order.refresh_from_db()
    assert (
        order.status == Order.Status.DELIVERED
    )  # the payment came first: the cards at the VIP price are kept
    assert not Cancellation.objects.exists() and not Refund.objects.exists()
    assert Membership.objects.get(pk=membership.pk).status == Membership.Status.ACTIVE
