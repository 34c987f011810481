"""代扣协议 in the console: the list, its filters, and asking the channel for one agreement's real state."""

import pytest
from django.test import Client

from kameng.core.models import AuditLog
from kameng.core.roles import Role
from kameng.membership import cancellation
from kameng.membership.models import Agreement, Cancellation, Membership
from kameng.notifications.models import Notification
from kameng.sandbox import agreements as sandbox
from tests.factories import PlanFactory, UserFactory, join_vip

pytestmark = pytest.mark.django_db


def logged_in(role) -> Client:
    client = Client()
    client.force_login(UserFactory(role=role))
    return client


def unsigned_silently_at_the_channel(user) -> Membership:
    """A member with auto-renew whose agreement ended at the channel without a notification (a silent expiry)."""
    membership = join_vip(user, PlanFactory(name="月卡", price_fen=3000), auto_renew=True)
    sandbox.unsign_agreement(agreement_no=membership.agreement.channel_agreement_no, notify=False)
    return membership


def test_the_page_lists_agreements_with_member_plan_channel_number_status_and_cap():
    membership = join_vip(
        UserFactory(username="alice"), PlanFactory(name="季卡", price_fen=8800), auto_renew=True
    )
    agreement = membership.agreement
    page = logged_in(Role.OPERATOR).get("/console/agreements/").content.decode()
    row = page[page.index(f'id="agreement-{agreement.pk}"') :]
    row = row[: row.index("</tr>")]
    for shown in (
        "alice",
        "季卡",
        "支付宝",
        agreement.channel_agreement_no,
        agreement.external_no,
        "已签约",
        "¥88.00",
    ):
        assert shown in row
    assert f'action="/console/agreements/{agreement.pk}/query/"' in row


def test_finance_sees_the_page_too():
    assert logged_in(Role.FINANCE).get("/console/agreements/").status_code == 200


def test_members_get_404_on_the_page_and_the_query_button():
    agreement = join_vip(UserFactory(), PlanFactory(), auto_renew=True).agreement
    member = logged_in(Role.MEMBER)
    assert member.get("/console/agreements/").status_code == 404
    assert member.post(f"/console/agreements/{agreement.pk}/query/").status_code == 404
    assert not AuditLog.objects.filter(action="agreement.queried").exists()


def test_the_list_filters_by_status_and_channel():
    on_alipay = join_vip(UserFactory(), PlanFactory(), auto_renew=True).agreement
    on_wechat = join_vip(UserFactory(), PlanFactory(), channel="wechat", auto_renew=True).agreement
    client = logged_in(Role.OPERATOR)
    page = client.get("/console/agreements/?channel=wechat").content.decode()
    assert f'id="agreement-{on_wechat.pk}"' in page and f'id="agreement-{on_alipay.pk}"' not in page
    page = client.get("/console/agreements/?status=terminated").content.decode()
    assert 'id="agreement-' not in page


def test_the_dashboard_links_to_the_agreements_page():
    assert 'href="/console/agreements/"' in logged_in(Role.OPERATOR).get("/console/").content.decode()


def test_asking_the_channel_about_an_unsigned_agreement_turns_auto_renew_off_and_is_audit_logged():
    membership = unsigned_silently_at_the_channel(UserFactory())
    agreement = membership.agreement
    operator = UserFactory(role=Role.OPERATOR)
    client = Client()
    client.force_login(operator)
    answer = client.post(f"/console/agreements/{agreement.pk}/query/", follow=True)
    assert answer.status_code == 200
    assert "渠道答复“已解约”" in answer.content.decode()
    membership.refresh_from_db()
    agreement.refresh_from_db()
    assert membership.auto_renew is False and membership.status == Membership.Status.ACTIVE
    assert agreement.status == Agreement.Status.TERMINATED and agreement.checked_at is not None
    receipt = Cancellation.objects.get(membership=membership)
    assert (
        receipt.source == Cancellation.Source.RECONCILE
        and receipt.effective_at == membership.current_period_end
    )
    asked = AuditLog.objects.get(action="agreement.queried")
    assert asked.actor == operator and asked.data["channel_state"] == "terminated" and asked.data["applied"]
    assert AuditLog.objects.filter(action="agreement.terminated", object_id=str(agreement.pk)).count() == 1


def test_asking_twice_changes_nothing_more():
    user = UserFactory()
    membership = unsigned_silently_at_the_channel(user)
    client = logged_in(Role.OPERATOR)
    url = f"/console/agreements/{membership.agreement.pk}/query/"
    client.post(url)
    second = client.post(url, follow=True)
    assert "无需更改" in second.content.decode()
    assert Cancellation.objects.filter(membership=membership).count() == 1
    assert Notification.objects.filter(user=user, kind="membership.cancelled").count() == 1
    assert AuditLog.objects.filter(action="agreement.terminated").count() == 1
    assert AuditLog.objects.filter(action="membership.cancelled.end_of_period").count() == 1
    assert [
        log.data["applied"] for log in AuditLog.objects.filter(action="agreement.queried").order_by("id")
    ] == [
        True,
        False,
    ]


def test_an_agreement_still_in_force_at_the_channel_is_left_as_it_is():
    membership = join_vip(UserFactory(), PlanFactory(), auto_renew=True)
    check = cancellation.reconcile_agreement(
        agreement=membership.agreement, actor=UserFactory(role=Role.OPERATOR)
    )
    assert (check.channel_state, check.applied) == ("active", False)
    membership.refresh_from_db()
    assert membership.auto_renew is True and membership.agreement.status == Agreement.Status.ACTIVE


def test_a_channel_that_cannot_answer_changes_nothing(monkeypatch):
    from kameng.core.http import TransportError
    from kameng.payments.channels.alipay import AlipayChannel

    def down(self, **kwargs):
        raise TransportError("connection refused")

    monkeypatch.setattr(AlipayChannel, "query_agreement", down)
    membership = join_vip(UserFactory(), PlanFactory(), auto_renew=True)
    answer = logged_in(Role.OPERATOR).post(
        f"/console/agreements/{membership.agreement.pk}/query/", follow=True
    )
    assert "渠道暂时无法答复" in answer.content.decode()
    membership.refresh_from_db()
    assert membership.auto_renew is True and not Cancellation.objects.exists()


def test_the_channels_answer_is_shown_in_the_operators_language():
    membership = unsigned_silently_at_the_channel(UserFactory())
    answer = logged_in(Role.OPERATOR).post(
        f"/console/agreements/{membership.agreement.pk}/query/", follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "the channel answered “terminated”" in answer.content.decode()
