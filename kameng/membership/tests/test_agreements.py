"""Agreement notifications from the channels: signed, verified, idempotent, never reviving what ended."""

from urllib.parse import urlencode

import pytest
from django.test import Client

from kameng.core import clock
from kameng.membership.models import Agreement, Membership
from kameng.payments.models import NotificationLog
from kameng.protocols import alipay as alipay_protocol
from kameng.sandbox import agreements as sandbox
from kameng.sandbox import keys
from kameng.sandbox.services import deliver_due_notifications
from tests.factories import PlanFactory, UserFactory, join_vip

pytestmark = pytest.mark.django_db


def alipay_notice(**fields) -> bytes:
    params = {
        "notify_id": fields.pop("notify_id", "n-1"),
        "notify_type": "dut_user_sign",
        "notify_time": clock.now().strftime("%Y-%m-%d %H:%M:%S"),
        "app_id": keys.ALIPAY_APP_ID,
        "status": "NORMAL",
        "personal_product_code": "CYCLE_PAY_AUTH_P",
        **fields,
    }
    return urlencode(
        alipay_protocol.sign_notification(params, keys.sandbox_keys()["alipay_private"])
    ).encode()


def post(body: bytes):
    return Client().post("/payments/notify/alipay/", body, content_type="application/x-www-form-urlencoded")


def test_a_repeated_sign_notification_changes_nothing():
    membership = join_vip(UserFactory(), PlanFactory(), auto_renew=True)
    agreement = membership.agreement
    again = alipay_notice(
        notify_id="late-repeat",
        external_agreement_no=agreement.external_no,
        agreement_no=agreement.channel_agreement_no,
    )
    assert post(again).content == b"success"
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ACTIVE
    assert Membership.objects.get(pk=membership.pk).period_index == 0


def test_a_sign_notification_for_an_unknown_agreement_is_refused_and_logged():
    answer = post(alipay_notice(external_agreement_no="KANOSUCHTHING", agreement_no="20260000000000000001"))
    assert answer.status_code == 400 and answer.content != b"success"
    assert NotificationLog.objects.filter(accepted=False, reason__contains="unknown agreement").exists()


def test_a_forged_sign_notification_is_refused():
    membership = join_vip(UserFactory(), PlanFactory(), auto_renew=True)
    body = alipay_notice(
        external_agreement_no=membership.agreement.external_no, agreement_no="20269999999999999999"
    ).replace(b"NORMAL", b"UNSIGN")
    assert post(body).status_code == 400
    assert Agreement.objects.get(pk=membership.agreement.pk).status == Agreement.Status.ACTIVE


@pytest.mark.parametrize("channel", ["alipay", "wechat"])
def test_switching_auto_renew_off_in_the_channel_app_keeps_vip_to_period_end(channel):
    membership = join_vip(UserFactory(), PlanFactory(), channel=channel, auto_renew=True)
    sandbox.unsign_agreement(agreement_no=membership.agreement.channel_agreement_no)
    deliver_due_notifications()
    membership.refresh_from_db()
    assert membership.auto_renew is False and membership.next_charge_at is None
    assert membership.status == Membership.Status.ACTIVE and membership.current_period_end
    assert membership.agreement.status == Agreement.Status.TERMINATED


def test_a_late_sign_notification_never_revives_a_terminated_agreement():
    membership = join_vip(UserFactory(), PlanFactory(), auto_renew=True)
    agreement = membership.agreement
    sandbox.unsign_agreement(agreement_no=agreement.channel_agreement_no)
    deliver_due_notifications()
    late = alipay_notice(
        notify_id="late-sign",
        external_agreement_no=agreement.external_no,
        agreement_no=agreement.channel_agreement_no,
    )
    assert post(late).content == b"success"
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.TERMINATED
    assert Membership.objects.get(pk=membership.pk).auto_renew is False


def test_the_sandbox_settings_page_lists_agreements_with_a_switch_off():
    membership = join_vip(UserFactory(), PlanFactory(), auto_renew=True)
    member = Client()
    member.force_login(membership.user)
    page = member.get("/sandbox/agreements/").content.decode()
    assert membership.agreement.channel_agreement_no in page and "关闭自动续费" in page
