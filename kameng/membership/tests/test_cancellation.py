"""退订 by every path: two clicks on the site, the API, the channel's app, and the daily reconcile."""

from datetime import timedelta

import pytest
from django.test import Client

from kameng.core import clock
from kameng.core.models import AuditLog
from kameng.membership import cancellation
from kameng.membership.error_codes import MembershipErrorCode as E
from kameng.membership.models import Agreement, Cancellation, Membership
from kameng.notifications.models import Notification
from kameng.payments import ledger
from kameng.payments.models import Payment, Refund
from kameng.sandbox import agreements as sandbox
from kameng.sandbox.models import SandboxAgreement, SandboxRefund, SandboxTrade
from tests.factories import (
    PlanFactory,
    UserFactory,
    api_client,
    join_vip,
    pay_in_sandbox,
    place_order,
    play_for,
    play_until,
    post_json,
    refusal,
    settle,
    stocked_product,
)

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_two_clicks_from_the_member_centre_turn_auto_renew_off_with_a_receipt():
    user = UserFactory()
    membership = join_vip(user, PlanFactory(), auto_renew=True)
    client = logged_in(user)
    centre = client.get("/member/").content.decode()
    assert 'href="/member/cancel/"' in centre  # click 1: 退订会员
    page = client.get("/member/cancel/").content.decode()
    assert 'value="end_of_period"' in page and 'value="immediate"' in page and "选填" in page
    done = client.post("/member/cancel/", {"mode": "end_of_period"})  # click 2: confirm (no reason needed)
    assert done.status_code == 302 and "/member/receipts/C" in done["Location"]
    membership.refresh_from_db()
    assert membership.auto_renew is False and membership.status == Membership.Status.ACTIVE
    receipt = Cancellation.objects.get(membership=membership)
    assert receipt.effective_at == membership.current_period_end and receipt.refund_fen == 0
    shown = client.get(done["Location"]).content.decode()
    assert receipt.receipt_no in shown and "关闭自动续费" in shown
    assert Notification.objects.filter(user=user, kind="membership.cancelled").count() == 1


def test_turning_auto_renew_off_unsigns_the_agreement_at_the_channel():
    user = UserFactory()
    membership = join_vip(user, PlanFactory(), channel="wechat", auto_renew=True)
    cancellation.cancel_membership(user=user, mode="end_of_period")
    settle()
    agreement = Agreement.objects.get(membership=membership)
    assert agreement.status == Agreement.Status.TERMINATED
    assert SandboxAgreement.objects.get(agreement_no=agreement.channel_agreement_no).status == "UNSIGN"
    assert (
        Cancellation.objects.filter(membership=membership).count() == 1
    )  # the channel's echo adds no receipt


def test_no_charge_is_attempted_after_auto_renew_was_turned_off():
    user = UserFactory()
    membership = join_vip(user, PlanFactory(), auto_renew=True)
    cancellation.cancel_membership(user=user, mode="end_of_period")
    trades_before = SandboxTrade.objects.count()
    play_for(days=35)
    membership.refresh_from_db()
    assert SandboxTrade.objects.count() == trades_before
    assert membership.status == Membership.Status.EXPIRED


def test_immediate_cancel_within_48_hours_refunds_in_full_through_the_channel():
    user = UserFactory()
    membership = join_vip(user, PlanFactory(price_fen=3000), auto_renew=True)
    clock.advance(seconds=3600)
    receipt = cancellation.cancel_membership(user=user, mode="immediate", reason="mistaken_purchase")
    assert receipt.refund_fen == 3000 and receipt.quote["rule"] == "full_within_window"
    assert receipt.refund.status == Refund.Status.PENDING
    settle()
    receipt.refund.refresh_from_db()
    assert receipt.refund.status == Refund.Status.SUCCEEDED
    assert SandboxRefund.objects.get().amount_fen == 3000
    membership.refresh_from_db()
    assert membership.status == Membership.Status.CANCELLED and membership.auto_renew is False
    assert ledger.balance(ledger.MEMBERSHIP_REVENUE) == 0


def test_immediate_cancel_mid_period_refunds_pro_rata_minus_savings():
    user = UserFactory()
    membership = join_vip(user, PlanFactory(price_fen=3000, discount_percent=10))
    pay_in_sandbox(place_order(user, stocked_product(price_fen=5000)))  # saves 500
    clock.advance(seconds=10 * 86400)
    quote, _ = cancellation.refund_quote(user=user)
    total = quote.total_days
    prorated = (3000 * (total - 11) * 2 + total) // (2 * total)  # half up, by hand
    assert (quote.used_days, quote.prorated_fen, quote.deducted_fen) == (11, prorated, 500)
    receipt = cancellation.cancel_membership(user=user, mode="immediate")
    assert receipt.refund_fen == quote.refund_fen == prorated - 500
    membership.refresh_from_db()
    assert membership.status == Membership.Status.CANCELLED


def test_vip_price_stops_the_moment_the_membership_is_cancelled():
    user = UserFactory()
    join_vip(user, PlanFactory(discount_percent=10))
    cancellation.cancel_membership(user=user, mode="immediate")
    assert place_order(user, stocked_product(price_fen=5000)).discount_fen == 0


def test_cancel_twice_gives_one_receipt_and_one_refund():
    user = UserFactory()
    join_vip(user, PlanFactory(), auto_renew=True)
    first = cancellation.cancel_membership(user=user, mode="immediate")
    second = cancellation.cancel_membership(user=user, mode="immediate")
    third = cancellation.cancel_membership(user=user, mode="end_of_period")  # a second tab, the other button
    assert first.pk == second.pk == third.pk
    assert Refund.objects.count() == 1 and Cancellation.objects.count() == 1


def test_end_of_period_then_immediate_gives_the_refund_once():
    user = UserFactory()
    join_vip(user, PlanFactory(price_fen=3000), auto_renew=True)
    cancellation.cancel_membership(user=user, mode="end_of_period")
    later = cancellation.cancel_membership(user=user, mode="immediate")
    assert later.refund_fen == 3000
    assert Refund.objects.count() == 1 and Cancellation.objects.count() == 2


def test_a_stale_quote_is_refused_with_a_clear_answer_and_changes_nothing():
    user = UserFactory()
    membership = join_vip(user, PlanFactory())
    _, quote_id = cancellation.refund_quote(user=user)
    clock.advance(seconds=31 * 60)
    with refusal(E.STALE_QUOTE):
        cancellation.cancel_membership(user=user, mode="immediate", quote_id=quote_id)
    membership.refresh_from_db()
    assert membership.status == Membership.Status.ACTIVE and not Cancellation.objects.exists()


def test_a_quote_seen_is_honoured_if_time_lowered_the_refund():
    user = UserFactory()
    join_vip(user, PlanFactory(price_fen=3100))
    clock.advance(seconds=3 * 86400 + 23 * 3600 + 50 * 60)  # 10 minutes before a new day starts
    quote, quote_id = cancellation.refund_quote(user=user)
    clock.advance(seconds=20 * 60)
    assert cancellation.refund_quote(user=user)[0].refund_fen < quote.refund_fen
    receipt = cancellation.cancel_membership(user=user, mode="immediate", quote_id=quote_id)
    assert receipt.refund_fen == quote.refund_fen


def test_bad_requests_change_nothing():
    user = UserFactory()
    with refusal(E.NO_MEMBERSHIP):
        cancellation.cancel_membership(user=user, mode="immediate")
    join_vip(user, PlanFactory())
    with refusal(E.BAD_MODE):
        cancellation.cancel_membership(user=user, mode="right-now")
    with refusal(E.BAD_REASON):
        cancellation.cancel_membership(user=user, mode="immediate", reason="nope")
    assert not Cancellation.objects.exists()


def test_channel_side_switch_off_gives_a_receipt_and_keeps_vip_to_period_end():
    user = UserFactory()
    membership = join_vip(user, PlanFactory(), auto_renew=True)
    sandbox.unsign_agreement(agreement_no=membership.agreement.channel_agreement_no)
    settle()
    receipt = Cancellation.objects.get(membership=membership)
    assert receipt.source == Cancellation.Source.CHANNEL and receipt.mode == "end_of_period"
    membership.refresh_from_db()
    assert membership.status == Membership.Status.ACTIVE and membership.auto_renew is False
    assert receipt.effective_at == membership.current_period_end
    assert Notification.objects.filter(user=user, kind="membership.cancelled").count() == 1


def test_the_daily_reconcile_applies_a_silent_expiry():
    user = UserFactory()
    membership = join_vip(user, PlanFactory(), auto_renew=True)
    sandbox.unsign_agreement(agreement_no=membership.agreement.channel_agreement_no, notify=False)
    clock.advance(seconds=86400 + 60)
    settle()
    membership.refresh_from_db()
    assert membership.auto_renew is False
    assert Cancellation.objects.get(membership=membership).source == Cancellation.Source.RECONCILE


def test_a_renewal_paid_after_the_cancellation_is_refunded_in_full():
    from kameng.membership import renewals, schedule
    from kameng.sandbox.services import deliver_due_notifications

    user = UserFactory()
    membership = join_vip(user, PlanFactory(price_fen=3000), auto_renew=True)
    first_attempt = schedule.coming_cycle(membership).first_attempt_at
    play_until(first_attempt - timedelta(minutes=1))  # reminded, the channel told of the charge
    clock.advance(seconds=120)
    # The sweep claimed the renewal and the channel took the money; before the channel's notification is
    # processed, the member cancels. The renewal must not start a period: the money goes back in full.
    [work] = renewals._claim_due(10)
    order_no = work.order_no
    sandbox.charge_agreement(
        channel="alipay",
        agreement_no=membership.agreement.channel_agreement_no,
        out_trade_no=order_no,
        amount_fen=3000,
        subject="renewal",
        notify_url="http://127.0.0.1:8000/payments/notify/alipay/",
    )
    cancellation.cancel_membership(user=user, mode="end_of_period")
    deliver_due_notifications()
    settle()
    renewal = Payment.objects.get(order__order_no=order_no)
    refund = renewal.refunds.get()
    assert (refund.amount_fen, refund.status, refund.reason) == (3000, "succeeded", "renewal_after_cancel")
    membership.refresh_from_db()
    assert membership.period_index == 0 and membership.auto_renew is False


def test_api_quote_cancel_and_auto_renew():
    user = UserFactory()
    join_vip(user, PlanFactory(price_fen=3000), auto_renew=True)
    client = api_client(user)
    quote = client.get("/api/v1/membership/refund-quote").json()
    assert quote["refund_fen"] == 3000 and quote["rule"] == "full_within_window" and quote["quote_id"]
    off = post_json(client, "/api/v1/membership/auto-renew", {"enabled": False}, HTTP_IDEMPOTENCY_KEY="k1")
    assert off.json() == {"auto_renew": False}
    on = post_json(client, "/api/v1/membership/auto-renew", {"enabled": True})
    assert on.status_code == 409 and on.json()["error"]["code"] == "resign_required"
    body = {"mode": "immediate", "reason": "", "quote_id": quote["quote_id"]}
    first = post_json(client, "/api/v1/membership/cancel", body, HTTP_IDEMPOTENCY_KEY="c1").json()
    again = post_json(client, "/api/v1/membership/cancel", body, HTTP_IDEMPOTENCY_KEY="c1").json()
    assert first == again and first["refund_fen"] == 3000 and first["refund_status"] == "pending"
    assert post_json(client, "/api/v1/membership/cancel", {"mode": "whenever"}).status_code == 422
    assert api_client(UserFactory()).get("/api/v1/membership/refund-quote").status_code == 404


def test_another_members_receipt_is_404():
    user = UserFactory()
    join_vip(user, PlanFactory())
    receipt = cancellation.cancel_membership(user=user, mode="immediate")
    assert logged_in(UserFactory()).get(f"/member/receipts/{receipt.receipt_no}/").status_code == 404
    assert logged_in(user).get(f"/member/receipts/{receipt.receipt_no}/").status_code == 200


def test_every_cancellation_is_audit_logged_with_its_source():
    user = UserFactory()
    membership = join_vip(user, PlanFactory())
    cancellation.cancel_membership(user=user, mode="immediate")
    entry = AuditLog.objects.get(action="membership.cancelled.immediate", object_id=str(membership.pk))
    assert entry.actor == user and entry.data["via"] == "self_service"
    assert timedelta(0) <= clock.now() - entry.at < timedelta(minutes=1)


def test_operators_see_cancellation_reasons_and_modes_per_plan_and_week():
    from kameng.core.roles import Role

    for reason in ("too_expensive", "too_expensive", ""):
        user = UserFactory()
        join_vip(user, PlanFactory(name="季卡X"))
        cancellation.cancel_membership(user=user, mode="immediate", reason=reason)
    operator = UserFactory(role=Role.OPERATOR)
    page = logged_in(operator).get("/admin/membership/cancellation/").content.decode()
    insight = page[page.index('id="cancellation-insight"') :]
    assert "季卡X" in insight and "价格太高" in insight and "<td>2</td>" in insight and "未填" in insight
    assert logged_in(UserFactory()).get("/admin/membership/cancellation/").status_code == 302
