"""Reads: plans, the purchase disclosure, VIP pricing, and the member centre's figures."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Q, QuerySet, Sum
from django.urls import reverse
from django.utils.translation import gettext as _

from kameng.core import clock
from kameng.core.errors import DomainError
from kameng.core.money import format_yuan
from kameng.core.roles import Role
from kameng.membership.error_codes import MembershipErrorCode
from kameng.membership.models import PERIOD_MONTHS, Agreement, Cancellation, Charge, Membership, Period, Plan
from kameng.membership.schedule import CLOSES, OPENS, WINDOW_DAYS, at_time, coming_cycle, first_renewal_date
from kameng.orders.models import Order

CHANNEL_LABELS = {"alipay": "支付宝", "wechat": "微信支付"}
CHANNEL_SETTINGS_PATH = {
    "alipay": "支付宝 App → 我的 → 设置 → 支付设置 → 免密支付/自动扣款",
    "wechat": "微信 → 我 → 服务 → 钱包 → 支付设置 → 自动续费",
}


def list_plans() -> list[Plan]:
    return list(Plan.objects.filter(is_active=True))


def get_plan(*, code: str) -> Plan:
    plan = Plan.objects.filter(code=code, is_active=True).first()
    if plan is None:
        raise DomainError(MembershipErrorCode.UNKNOWN_PLAN, plan=code)
    return plan


def period_label(plan: Plan) -> str:
    return {
        Period.MONTH: _("1 个月"),
        Period.QUARTER: _("3 个月"),
        Period.YEAR: _("12 个月"),
        Period.LIFETIME: _("永久"),
    }[plan.period]


def refund_policy_text(plan: Plan) -> str:
    window = plan.refund_window_hours
    if plan.period == Period.LIFETIME:
        if plan.lifetime_penalty_percent is None:
            tail = _("超过 %(h)s 小时不退款。") % {"h": window}
        else:
            tail = _("超过 %(h)s 小时按已付金额扣除 %(p)s%% 违约金及已享优惠后退款。") % {
                "h": window,
                "p": plan.lifetime_penalty_percent,
            }
        return _("购买或续费后 %(h)s 小时内且未使用会员优惠可全额退款;") % {"h": window} + tail
    deduct = _(",扣除本期已享会员优惠") if plan.deduct_savings else ""
    return _("购买或续费后 %(h)s 小时内且未使用会员优惠可全额退款;") % {"h": window} + _(
        "之后立即退订按剩余天数比例退款%(deduct)s,不低于 0。"
    ) % {"deduct": deduct}


def disclosure(*, plan: Plan, channel: str, auto_renew: bool, now: datetime | None = None) -> dict:
    """Everything the member must read before paying, as data (for the API and the consent record) and as lines.

    For auto-renew: price, period, the planned date C and amount of the next charge (the first renewal's C, the
    date the agreement is signed with: `schedule.first_renewal_date`) and its window (the 2 days up to C,
    07:00–22:00), that a reminder comes before every charge, the per-charge cap, and every way to cancel.
    """
    now = now or clock.now()
    months = PERIOD_MONTHS.get(plan.period)
    planned = first_renewal_date(subscribed_at=now, period_months=months) if (auto_renew and months) else None
    window = charge_window(planned) if planned else None
    next_charge_at = window[1] if window else None
    facts = {
        "plan_code": plan.code,
        "plan_name": plan.name,
        "price_fen": plan.price_fen,
        "period": plan.period,
        "period_label": period_label(plan),
        "channel": channel,
        "auto_renew": bool(auto_renew and months),
        "next_charge_at": clock.iso(next_charge_at),  # the end of C's window: C 22:00
        "next_charge_date": planned.isoformat() if planned else None,
        "charge_window_opens": clock.iso(window[0]) if window else None,
        "next_charge_fen": plan.price_fen if next_charge_at else None,
        "charge_cap_fen": plan.price_fen if next_charge_at else None,
        "reminder_days_before": plan.reminder_schedule() if next_charge_at else [],
        "terms_version": plan.terms_version,
        "refund_policy": refund_policy_text(plan),
        "how_to_cancel": {
            "member_centre": reverse("membership:centre"),
            "support_ticket": _("提交“退订会员”工单,客服 3 个工作日内处理;逾期未处理自动关闭续费"),
            "channel_settings": CHANNEL_SETTINGS_PATH.get(channel, ""),
        },
    }
    lines = [
        _("%(name)s:%(price)s / %(period)s")
        % {"name": plan.name, "price": format_yuan(plan.price_fen), "period": period_label(plan)}
    ]
    if next_charge_at:
        lines += [
            _(
                "到期自动续费:下次计划扣款日 %(date)s,金额 %(amount)s,通过%(channel)s扣款,每次不超过 %(amount)s。"
            )
            % {
                "date": planned.isoformat(),
                "amount": format_yuan(plan.price_fen),
                "channel": CHANNEL_LABELS.get(channel, channel),
            },
            window_text(planned),
            _("每个计划扣款日前 %(days)s 天会通过站内信和邮件提醒你。")
            % {"days": "、".join(str(d) for d in plan.reminder_schedule())},
            _("随时可取消:会员中心 → 退订会员(两步完成);或提交退订工单;或在%(path)s中关闭。")
            % {"path": CHANNEL_SETTINGS_PATH.get(channel, "")},
        ]
    elif months:
        lines.append(_("不自动续费:到期后会员自动结束,不会扣款。"))
    lines.append(refund_policy_text(plan))
    facts["text"] = lines
    return facts


def charge_window(planned: date) -> tuple[datetime, datetime]:
    """The window of the charge planned for `planned` (C): from C-2 07:00 to C 22:00, Beijing time."""
    return at_time(planned - timedelta(days=WINDOW_DAYS), OPENS), at_time(planned, CLOSES)


def window_text(planned: date) -> str:
    """The one sentence every page and message uses for a charge's window."""
    opens = planned - timedelta(days=WINDOW_DAYS)
    return _("扣款在计划扣款日及前 2 天(%(opens)s 至 %(date)s)每天 07:00–22:00 之间进行,成功一次即止。") % {
        "opens": opens.isoformat(),
        "date": planned.isoformat(),
    }


def live_membership(user) -> Membership | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return (
        Membership.objects.filter(user=user, status__in=Membership.LIVE)
        .select_related("plan", "agreement")
        .first()
    )


def vip_discount_percent(user) -> int:
    """The discount the member enjoys right now: active membership with the VIP-price perk, else 0."""
    if not getattr(user, "is_authenticated", False):
        return 0
    row = (
        Membership.objects.filter(user=user, status=Membership.Status.ACTIVE, plan__perk_vip_price=True)
        .values_list("plan__discount_percent", flat=True)
        .first()
    )
    return row or 0


def has_priority_fulfilment(user) -> bool:
    return Membership.objects.filter(
        user=user, status=Membership.Status.ACTIVE, plan__perk_priority_fulfilment=True
    ).exists()


def best_vip_discount_percent() -> int:
    """The VIP price shown beside every price, to members and non-members: the most generous active plan's."""
    return (
        Plan.objects.filter(is_active=True, perk_vip_price=True)
        .order_by("-discount_percent")
        .values_list("discount_percent", flat=True)
        .first()
        or 0
    )


def savings_fen(*, user, start: datetime | None = None, end: datetime | None = None) -> int:
    """VIP savings on the member's orders paid in [start, end), refunded orders excluded."""
    paid = Q(status__in=[Order.Status.PAID, Order.Status.FULFILLING, Order.Status.DELIVERED])
    query = Order.objects.filter(paid, user=user, kind=Order.Kind.GOODS, discount_fen__gt=0)
    if start is not None:
        query = query.filter(paid_at__gte=start)
    if end is not None:
        query = query.filter(paid_at__lt=end)
    return query.aggregate(total=Sum("discount_fen"))["total"] or 0


def open_vip_orders(*, membership: Membership) -> QuerySet[Order]:
    """The member's goods orders priced at this membership's VIP price in its current period and never paid nor
    closed: pending payment, or expired but still payable late. An immediate cancel that refunds the period's
    fee closes them (docs/rules.md#5-cancellation); until then they are not savings (nothing was bought)."""
    if membership.current_period_start is None:
        return Order.objects.none()
    return (
        Order.objects.filter(
            user_id=membership.user_id,
            kind=Order.Kind.GOODS,
            discount_fen__gt=0,
            status__in=[Order.Status.PENDING_PAYMENT, Order.Status.EXPIRED],
            paid_at__isnull=True,
            closed_reason="",
            created_at__gte=membership.current_period_start,
        )
        .select_related("product")
        .order_by("pk")
    )


@dataclass(frozen=True)
class MemberCentre:
    membership: Membership | None
    status: str  # API status: none | active | past_due | cancelled | expired
    savings_period_fen: int
    savings_total_fen: int
    paid_total_fen: int  # what VIP cost the member so far
    period_fee_fen: int  # what the current period cost
    next_charge_at: datetime | None  # the end of the coming charge's window: its planned date C, 22:00
    next_charge_fen: int | None
    value_note: str
    pending_order_no: str | None
    next_charge_date: date | None = None  # C, the date the member is shown everywhere
    charge_window_opens: datetime | None = None  # C-2, 07:00


def member_centre(*, user) -> MemberCentre:
    membership = live_membership(user) or (
        Membership.objects.filter(user=user)
        .exclude(status=Membership.Status.ABANDONED)
        .select_related("plan")
        .first()
    )
    if membership is None or membership.status == Membership.Status.PENDING:
        pending = None
        if membership is not None:
            pending = (
                membership.charges.filter(period_index=0)
                .values_list("tries__order__order_no", flat=True)
                .last()
            )
        return MemberCentre(None, "none", 0, 0, 0, 0, None, None, "", pending)
    paid_total = (
        Charge.objects.filter(membership__user=user, status=Charge.Status.SUCCEEDED).aggregate(
            t=Sum("amount_fen")
        )["t"]
        or 0
    )
    current_charge = membership.charges.filter(
        period_index=membership.period_index, status=Charge.Status.SUCCEEDED
    ).first()
    period_fee = current_charge.amount_fen if current_charge else 0
    period_savings = savings_fen(
        user=user, start=membership.current_period_start, end=membership.current_period_end
    )
    total_savings = savings_fen(user=user)
    coming = coming_cycle(membership) if membership.auto_renew else None
    renewing = coming is not None and membership.status == Membership.Status.ACTIVE
    if period_savings >= period_fee:
        note = _("本期已节省 %(saved)s,超过会费 %(fee)s") % {
            "saved": format_yuan(period_savings),
            "fee": format_yuan(period_fee),
        }
    else:
        note = _("本期已节省 %(saved)s,低于会费 %(fee)s") % {
            "saved": format_yuan(period_savings),
            "fee": format_yuan(period_fee),
        }
    return MemberCentre(
        membership=membership,
        status=membership.status,
        savings_period_fen=period_savings,
        savings_total_fen=total_savings,
        paid_total_fen=paid_total,
        period_fee_fen=period_fee,
        next_charge_at=coming.window_closes if renewing else None,
        next_charge_fen=membership.price_fen if renewing else None,
        value_note=note,
        pending_order_no=None,
        next_charge_date=coming.planned if renewing else None,
        charge_window_opens=coming.window_opens if renewing else None,
    )


def agreement_to_sign(*, order):
    """For the first order of an auto-renew membership: the agreement the member signs instead of paying."""
    return (
        Agreement.objects.select_related("membership__plan", "membership__user")
        .filter(
            status=Agreement.Status.PENDING,
            membership__charges__period_index=0,
            membership__charges__tries__order=order,
        )
        .first()
    )


def receipts_of(user) -> list:
    return list(
        Cancellation.objects.filter(membership__user=user).select_related("membership__plan", "refund")[:20]
    )


def receipt_for(*, user, receipt_no: str):
    """A receipt for its member (or staff who may see members' records); anybody else gets None (a 404)."""
    query = Cancellation.objects.select_related("membership__plan", "membership__user", "refund")
    if not user.has_role(Role.SUPPORT, Role.OPERATOR, Role.FINANCE):
        query = query.filter(membership__user=user)
    return query.filter(receipt_no=receipt_no).first()


def cancellation_insight(*, weeks: int = 12) -> dict:
    """Cancellations of the last `weeks` weeks counted by plan × mode × reason, and by week × mode."""
    from datetime import timedelta

    from django.db.models import Count
    from django.db.models.functions import TruncWeek

    recent = Cancellation.objects.filter(received_at__gte=clock.now() - timedelta(weeks=weeks))
    by_plan = (
        recent.values("membership__plan__name", "mode", "reason")
        .annotate(count=Count("id"))
        .order_by("membership__plan__name", "mode", "-count")
    )
    by_week = (
        recent.annotate(week=TruncWeek("received_at", tzinfo=clock.SHANGHAI))
        .values("week", "mode")
        .annotate(count=Count("id"))
        .order_by("-week", "mode")
    )
    modes = dict(Cancellation.Mode.choices)
    reasons = dict(Cancellation.Reason.choices)
    return {
        "by_plan": [
            {
                "plan": row["membership__plan__name"],
                "mode": modes.get(row["mode"], row["mode"]),
                "reason": reasons.get(row["reason"], _("未填")),
                "count": row["count"],
            }
            for row in by_plan
        ],
        "by_week": [
            {"week": row["week"], "mode": modes.get(row["mode"], row["mode"]), "count": row["count"]}
            for row in by_week
        ],
    }
