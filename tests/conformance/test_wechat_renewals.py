"""A WeChat 周期扣费 membership renews three periods in a row over real HTTP: the shop under gunicorn, the sandbox
speaking WeChat's v2 papay and v3 预扣费通知, the test clock moved for both processes. Checked against the sandbox's
own books, not the shop's: each renewal charged once, under a notice, inside that notice's chargeable days and
07:00–22:00 Beijing time (docs/rules.md#renewal-schedule, docs/channels.md)."""

from datetime import time

import pytest

from kameng.core import clock
from kameng.membership.models import Membership
from kameng.sandbox.models import SandboxDeductNotice, SandboxTrade
from tests.factories import PlanFactory, UserFactory, join_vip, play_for

pytestmark = [pytest.mark.postgres]


def test_a_wechat_membership_renews_three_periods_each_once_inside_its_window(gunicorn_server):
    membership = join_vip(UserFactory(), PlanFactory(price_fen=3000), channel="wechat", auto_renew=True)
    play_for(days=92)  # three monthly renewals
    membership = Membership.objects.get(pk=membership.pk)
    assert membership.status == Membership.Status.ACTIVE and membership.period_index == 3

    contract = membership.agreement.channel_agreement_no
    charges = SandboxTrade.objects.filter(
        agreement__agreement_no=contract, trade_type="PAP", status=SandboxTrade.Status.PAID
    ).order_by("paid_at")
    assert charges.count() == 4  # the first period (within 12 h of signing, no notice) and three renewals
    assert len({c.out_trade_no for c in charges}) == 4
    first, *renewals = charges
    assert first.notice_id is None
    notices = SandboxDeductNotice.objects.filter(agreement__agreement_no=contract)
    assert notices.count() == 3
    for charge in renewals:
        notice = charge.notice
        paid = clock.local(charge.paid_at)
        assert notice is not None and notice.used_by_id == charge.pk
        assert notice.first_chargeable <= paid.date() <= notice.last_chargeable
        assert time(7) <= paid.time() < time(22)
        assert charge.amount_fen <= notice.amount_fen == 3000
