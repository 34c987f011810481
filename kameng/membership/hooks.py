"""What membership plugs into the apps below it, which never import it (docs/architecture.md, Layers).

Called once from MembershipConfig.ready(): the VIP price and priority for catalog and orders, and for payments the
membership order kind (what its payment buys, where it is paid, why its money may go back) and the agreement events.
"""

from django.db.models import QuerySet
from django.urls import reverse

from kameng.catalog import pricing
from kameng.membership import agreements, renewals, selectors, services, vip_price
from kameng.membership.models import Charge
from kameng.orders.models import Order
from kameng.payments import events, ledger
from kameng.payments.models import Refund


def _sign_first_period_url(order: Order) -> str | None:
    """An auto-renew membership's first order is paid by signing the agreement: its first charge pays the order."""
    agreement = selectors.agreement_to_sign(order=order)
    if agreement is None:
        return None
    return agreements.sign_url(agreement=agreement, return_path=reverse("membership:centre"))


def _charge_orders() -> QuerySet[Order]:
    return Order.objects.filter(membership_attempt__isnull=False)


def _unsettled_charge_orders() -> QuerySet[Order]:
    """Charges the channel has not answered for good: no answer (lost) or "pending" (it will notify)."""
    return Order.objects.filter(
        membership_attempt__outcome__in=renewals.UNFINISHED,
        membership_attempt__charge__status=Charge.Status.PENDING,
    )


def _charge_refused(refusal: events.ChargeRefused) -> None:
    if not renewals.charge_refused_at_channel(
        order_no=refusal.order_no, reason=refusal.reason, source=refusal.source
    ):
        raise events.Rejected("a refused charge for an order that charges no agreement")


def register() -> None:
    pricing.register(
        pricing.MemberPerks(
            discount_percent=selectors.vip_discount_percent,
            best_discount_percent=selectors.best_vip_discount_percent,
            priority_fulfilment=selectors.has_priority_fulfilment,
            held_discount_percent=vip_price.held_vip_discount_percent,
        )
    )
    events.register_order_kind(
        Order.Kind.MEMBERSHIP,
        events.OrderKind(
            on_payment=lambda paid: services.apply_membership_payment(order_no=paid.order_no),
            revenue_account=ledger.MEMBERSHIP_REVENUE,
            refund_reason=Refund.Reason.RENEWAL_AFTER_CANCEL,  # a renewal charged after the member cancelled
            pay_url=_sign_first_period_url,
        ),
    )
    events.subscribe_agreements(agreements.apply_agreement_event)
    events.register_agreement_charges(
        events.AgreementCharges(
            orders=_charge_orders, unsettled=_unsettled_charge_orders, refused=_charge_refused
        )
    )
