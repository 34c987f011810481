import pytest

from kameng.catalog.models import Delivery
from kameng.membership.models import Membership
from kameng.orders.selectors import fulfilment_queue
from tests.factories import PlanFactory, UserFactory, join_vip, pay_in_sandbox, place_order, stocked_product

pytestmark = pytest.mark.django_db


def test_an_active_member_pays_the_vip_price_and_the_saving_is_recorded():
    user = UserFactory()
    join_vip(user, PlanFactory(discount_percent=15))
    order = place_order(user, stocked_product(price_fen=1999), quantity=2)
    assert order.unit_price_fen == 1699  # 1999 × 85 % = 1699.15, half up
    assert (order.original_amount_fen, order.discount_fen, order.amount_fen) == (3998, 600, 3398)


def test_a_non_member_pays_the_full_price():
    order = place_order(UserFactory(), stocked_product(price_fen=1999))
    assert order.discount_fen == 0 and order.amount_fen == 1999


def test_a_past_due_member_gets_no_vip_price():
    user = UserFactory()
    membership = join_vip(user, PlanFactory(discount_percent=15))
    Membership.objects.filter(pk=membership.pk).update(status=Membership.Status.PAST_DUE)
    assert place_order(user, stocked_product(price_fen=1999)).discount_fen == 0


def test_members_manual_orders_are_served_first():
    product = stocked_product(keys=0, delivery=Delivery.MANUAL)
    guest_order = place_order(UserFactory(), product)
    member = UserFactory()
    join_vip(member, PlanFactory())
    member_order = place_order(member, product)
    pay_in_sandbox(guest_order)
    pay_in_sandbox(member_order)
    assert [o.order_no for o in fulfilment_queue()][:2] == [member_order.order_no, guest_order.order_no]


def test_savings_of_the_period_show_in_the_member_centre():
    from kameng.membership.selectors import member_centre

    user = UserFactory()
    join_vip(user, PlanFactory(discount_percent=10, price_fen=3000))
    order = place_order(user, stocked_product(price_fen=5000))
    pay_in_sandbox(order)
    centre = member_centre(user=user)
    assert centre.savings_period_fen == 500 and centre.savings_total_fen == 500
    assert centre.value_note == "本期已节省 ¥5.00,低于会费 ¥30.00"
