"""VIP membership: plans, memberships with explicit states, consents, channel agreements, charges, reminders."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

# The renewal schedule's numbers the models need (the rest is kameng/membership/schedule.py): the first reminder
# at least 5 days before a cycle's first attempt, which is 2 days before its planned date C; plans count their
# reminder days before C, so their first is at least 7 (docs/rules.md#renewal-schedule).
MIN_FIRST_REMINDER_DAYS = 5
CHARGE_WINDOW_DAYS = 2  # attempts on C-2, C-1 and C
MIN_FIRST_REMINDER_DAYS_BEFORE_C = MIN_FIRST_REMINDER_DAYS + CHARGE_WINDOW_DAYS


def parse_reminder_days(text: str) -> list[int]:
    """ "30,7,3" → [30, 7, 3], largest first; raises ValueError for anything else."""
    days = sorted({int(part) for part in text.replace("，", ",").split(",") if part.strip()}, reverse=True)
    if not days or days[-1] < 1:
        raise ValueError("reminder days are whole numbers of at least 1")
    return days


class Period(models.TextChoices):
    MONTH = "month", _("月")
    QUARTER = "quarter", _("季")
    YEAR = "year", _("年")
    LIFETIME = "lifetime", _("永久")


PERIOD_MONTHS = {Period.MONTH: 1, Period.QUARTER: 3, Period.YEAR: 12}


class Plan(models.Model):
    """A VIP plan (会员套餐). Price, discount and refund policy are shown to the member before purchase."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=64)
    period = models.CharField(max_length=16, choices=Period.choices)
    price_fen = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    discount_percent = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(90)], help_text=_("VIP 价 = 原价 × (100 − 折扣) %")
    )
    perk_vip_price = models.BooleanField(default=True)
    perk_priority_fulfilment = models.BooleanField(default=True)
    perk_priority_support = models.BooleanField(default=True)
    # Refund policy (docs/rules.md#5-cancellation); used by the cancellation flow, shown at purchase.
    refund_window_hours = models.PositiveSmallIntegerField(default=48)
    deduct_savings = models.BooleanField(default=True)
    lifetime_penalty_percent = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(100)],
        help_text=_("永久会员:超过无理由期后的违约金比例;留空表示不退款"),
    )
    reminder_days = models.CharField(
        max_length=32,
        blank=True,
        help_text=_("计划扣款日前几天提醒,逗号分隔,第一次不少于 7 天;留空用默认(年卡 30,7,3;其他 7,3)"),
    )
    terms_version = models.CharField(max_length=32, default="2026-11")
    is_active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "price_fen"]
        verbose_name = _("会员套餐")
        verbose_name_plural = _("会员套餐")
        constraints = [
            models.CheckConstraint(condition=Q(discount_percent__lte=90), name="plan_discount_at_most_90")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def renews(self) -> bool:
        return self.period != Period.LIFETIME

    def reminder_schedule(self) -> list[int]:
        """Days before a cycle's planned date C on which the member is reminded, largest first. The first is at
        least 7 (5 days before the first attempt on C-2): a list saved before that floor gets a reminder on C-7
        added rather than a renewal paused for a reminder that came too late."""
        if self.reminder_days:
            days = parse_reminder_days(self.reminder_days)
        else:
            days = [30, 7, 3] if self.period == Period.YEAR else [7, 3]
        if days[0] < MIN_FIRST_REMINDER_DAYS_BEFORE_C:
            days.insert(0, MIN_FIRST_REMINDER_DAYS_BEFORE_C)
        return days

    def clean(self) -> None:
        if self.reminder_days:
            try:
                days = parse_reminder_days(self.reminder_days)
            except ValueError as exc:
                raise ValidationError({"reminder_days": str(exc)}) from None
            if days[0] < MIN_FIRST_REMINDER_DAYS_BEFORE_C:
                # Reminder days count before C; the first attempt is on C-2 and must come 5 days after it.
                raise ValidationError(
                    {"reminder_days": _("第一次提醒不得晚于计划扣款日前 7 天(首次扣款尝试前 5 天)")}
                )


class Membership(models.Model):
    """One member's VIP contract, from purchase to its end. At most one live membership per member.

    Its status changes only in kameng/membership/lifecycle.py, whose docstring draws the state machine.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("待支付")
        ACTIVE = "active", _("生效中")
        PAST_DUE = "past_due", _("续费失败")
        CANCELLED = "cancelled", _("已退订")
        EXPIRED = "expired", _("已到期")
        ABANDONED = "abandoned", _("未支付")  # the first payment never came

    LIVE = (Status.PENDING, Status.ACTIVE, Status.PAST_DUE)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="memberships")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="memberships")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    channel = models.CharField(max_length=16)
    price_fen = models.PositiveIntegerField()  # the agreed price: no renewal charges more
    auto_renew = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    # Periods are counted from an anchor so that Jan 31 renews on Feb 28 and again on Mar 31.
    anchor_at = models.DateTimeField(null=True, blank=True)
    anchor_index = models.PositiveIntegerField(default=0)  # the period that began at anchor_at
    period_index = models.PositiveIntegerField(default=0)  # the period being enjoyed (0 = the first)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)  # None: lifetime
    next_charge_at = models.DateTimeField(null=True, blank=True)  # when the renewal sweep looks at it next
    next_reminder_at = models.DateTimeField(null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    past_due_since = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("会员")
        verbose_name_plural = _("会员")
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(status__in=["pending", "active", "past_due"]),
                name="one_live_membership_per_user",
            )
        ]
        indexes = [
            models.Index(fields=["status", "next_charge_at"], name="membership_due_charge"),
            models.Index(fields=["status", "next_reminder_at"], name="membership_due_reminder"),
            models.Index(fields=["status", "current_period_end"], name="membership_period_end"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.plan}"


class ConsentRecord(models.Model):
    """The member's explicit consent to auto-renewal, with exactly what was disclosed next to the box."""

    membership = models.OneToOneField(Membership, on_delete=models.PROTECT, related_name="consent")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    given_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    terms_version = models.CharField(max_length=32)
    plan_code = models.CharField(max_length=32)
    price_fen = models.PositiveIntegerField()
    channel = models.CharField(max_length=16)
    external_agreement_no = models.CharField(max_length=32)
    disclosure = models.JSONField()  # the disclosure as shown, field by field

    class Meta:
        verbose_name = _("自动续费授权记录")
        verbose_name_plural = _("自动续费授权记录")

    def __str__(self) -> str:
        return f"{self.user} · {self.plan_code} · {self.given_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("a consent record is never changed")
        super().save(*args, **kwargs)


class Agreement(models.Model):
    """A channel agreement (Alipay 周期扣款 / WeChat Pay 委托代扣) that lets us charge renewals."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待签约")
        ACTIVE = "active", _("已签约")
        CANCEL_REQUESTED = "cancel_requested", _("解约中")  # we asked the channel; retried until it confirms
        TERMINATED = "terminated", _("已解约")

    class TerminationSource(models.TextChoices):
        """Who ended it: we (our unsign confirmed), or the channel (the member there, or found by the reconcile)."""

        MERCHANT_UNSIGN = "merchant_unsign", _("商户解约")
        ALIPAY_CHANNEL = "alipay_channel", _("支付宝内解约")
        ALIPAY_RECONCILE = "alipay_reconcile", _("对账发现支付宝已解约")
        WECHAT_CHANNEL = "wechat_channel", _("微信内解约")
        WECHAT_RECONCILE = "wechat_reconcile", _("对账发现微信已解约")

    membership = models.OneToOneField(Membership, on_delete=models.PROTECT, related_name="agreement")
    channel = models.CharField(max_length=16)
    external_no = models.CharField(max_length=32, unique=True)  # ours; never reused
    channel_agreement_no = models.CharField(max_length=64, blank=True)  # agreement_no / contract_id
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    single_amount_fen = models.PositiveIntegerField()  # the per-charge cap signed with the channel
    created_at = models.DateTimeField()
    signed_at = models.DateTimeField(null=True, blank=True)
    terminated_at = models.DateTimeField(null=True, blank=True)
    termination_source = models.CharField(max_length=32, blank=True, choices=TerminationSource.choices)
    checked_at = models.DateTimeField(null=True, blank=True)  # last daily reconcile with the channel

    class Meta:
        verbose_name = _("代扣协议")
        verbose_name_plural = _("代扣协议")

    def __str__(self) -> str:
        return self.external_no


class Charge(models.Model):
    """The money for one period of a membership. Unique per period: a period is never paid twice.

    Each attempt at the channel is an order (its own out_trade_no); the charge succeeds at most once.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("扣款中")
        SUCCEEDED = "succeeded", _("成功")
        FAILED = "failed", _("失败")

    membership = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="charges")
    period_index = models.PositiveIntegerField()
    is_renewal = models.BooleanField(default=False)
    amount_fen = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField()
    succeeded_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=255, blank=True)
    # When the channel was told this renewal is coming (WeChat 预扣费通知; Alipay answers at once): no attempt
    # before it, and none before its waiting period is over (kameng/membership/schedule.py).
    announced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("会员扣款")
        verbose_name_plural = _("会员扣款")
        constraints = [
            models.UniqueConstraint(fields=["membership", "period_index"], name="one_charge_per_period")
        ]

    def __str__(self) -> str:
        return f"{self.membership} · #{self.period_index} · {self.status}"


class ChargeAttempt(models.Model):
    """One try at the channel for a charge, tied to the order whose number the channel sees."""

    class Outcome(models.TextChoices):
        UNANSWERED = "", _("未答复")  # claimed; the channel has not answered yet (or the answer was lost)
        PENDING = "pending", _("处理中")
        SUCCEEDED = "succeeded", _("成功")
        FAILED = "failed", _("失败")

    charge = models.ForeignKey(Charge, on_delete=models.PROTECT, related_name="tries")
    order = models.OneToOneField("orders.Order", on_delete=models.PROTECT, related_name="membership_attempt")
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, blank=True, choices=Outcome.choices)

    def __str__(self) -> str:
        return f"{self.charge} · {self.order_id}"


class Reminder(models.Model):
    """A renewal reminder sent for one cycle. A cycle whose first reminder was not sent 5 days before its first
    attempt is never charged (auto-renew pauses for it). charge_at: the cycle's planned date C at the member's charge
    time (the window's last attempt)."""

    membership = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="reminders")
    period_index = models.PositiveIntegerField()  # the period the coming charge pays for
    days_before = models.PositiveSmallIntegerField()
    charge_at = models.DateTimeField()
    amount_fen = models.PositiveIntegerField()
    sent_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["membership", "period_index", "days_before"], name="one_reminder_per_offset"
            )
        ]

    def __str__(self) -> str:
        return f"{self.membership} · #{self.period_index} · -{self.days_before}d"


class Cancellation(models.Model):
    """A cancellation and its receipt (退订回执). One per membership and mode, whatever the clicks and retries."""

    class Mode(models.TextChoices):
        END_OF_PERIOD = "end_of_period", _("关闭自动续费")
        IMMEDIATE = "immediate", _("立即退订并退款")

    class Source(models.TextChoices):
        SELF_SERVICE = "self_service", _("会员自助")
        SUPPORT = "support", _("客服工单")
        SUPPORT_OVERDUE = "support_overdue", _("客服逾期未处理,自动关闭续费")
        CHANNEL = "channel", _("支付渠道")
        RECONCILE = "reconcile", _("渠道对账")

    class Reason(models.TextChoices):
        TOO_EXPENSIVE = "too_expensive", _("价格太高")
        NOT_USING = "not_using", _("用得不多")
        MISTAKEN_PURCHASE = "mistaken_purchase", _("误购")
        UNWANTED_RENEWAL = "unwanted_renewal", _("不想自动续费")
        FOUND_ALTERNATIVE = "found_alternative", _("找到了替代")
        OTHER = "other", _("其他")

    receipt_no = models.CharField(max_length=32, unique=True)
    membership = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="cancellations")
    mode = models.CharField(max_length=16, choices=Mode.choices)
    source = models.CharField(max_length=16, choices=Source.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=32, choices=Reason.choices, blank=True)
    comment = models.CharField(max_length=500, blank=True)
    received_at = models.DateTimeField()
    effective_at = models.DateTimeField()  # when the membership ends
    refund_fen = models.PositiveIntegerField(default=0)
    quote = models.JSONField(default=dict)  # every number of the refund formula, as computed
    refund = models.OneToOneField(
        "payments.Refund", null=True, blank=True, on_delete=models.PROTECT, related_name="cancellation"
    )
    # The unpaid orders at the period's VIP price that the refund closed (docs/rules.md#5-cancellation), as they
    # were: [{order_no, subject, amount_fen, discount_fen}].
    closed_orders = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("退订回执")
        verbose_name_plural = _("退订回执")
        constraints = [
            models.UniqueConstraint(fields=["membership", "mode"], name="one_cancellation_per_mode")
        ]

    def __str__(self) -> str:
        return self.receipt_no
