"""Payments asks the order kinds registered with it; a kind nobody registered fails loudly and keeps nothing."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from kameng.core.hooks import Slot
from kameng.orders.models import Order
from kameng.payments import events, services
from kameng.payments.models import LedgerLine, Payment
from tests.factories import UserFactory, place_order, stocked_product

pytestmark = pytest.mark.django_db


def test_a_payment_for_an_order_kind_nobody_registered_is_refused_and_nothing_is_kept(monkeypatch):
    order = place_order(UserFactory(), stocked_product())
    monkeypatch.delitem(events._order_kinds, Order.Kind.GOODS)
    refused = pytest.raises(LookupError, match="no payment handlers registered for order kind 'goods'")
    with refused, transaction.atomic():
        services.record_payment(
            channel="alipay", out_trade_no=order.order_no, channel_trade_no="T1", amount_fen=order.amount_fen
        )
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    assert not Payment.objects.exists() and not LedgerLine.objects.exists()


def test_an_agreement_event_with_no_subscriber_fails_loudly(monkeypatch):
    monkeypatch.setattr(
        events, "_agreement_handler", Slot("the agreement events' handler", filled_by="membership")
    )
    with pytest.raises(LookupError, match="nothing fills the agreement events' handler"):
        events.publish_agreement_event(
            events.AgreementEnded(
                channel="alipay", external_agreement_no="A1", channel_agreement_no="C1", dedupe_key="N1"
            )
        )


def test_a_second_handler_for_agreement_events_is_refused():
    with pytest.raises(ImproperlyConfigured, match="filled already"):
        events.subscribe_agreements(lambda event: None)


def test_a_second_set_of_handlers_for_an_order_kind_is_refused():
    with pytest.raises(ImproperlyConfigured, match="has its payment handlers already"):
        events.register_order_kind(
            Order.Kind.GOODS, events.OrderKind(on_payment=print, revenue_account="x", refund_reason="y")
        )
