"""The sandbox gateway's own books: what the pretend Alipay / WeChat Pay knows. Never the shop's tables."""

from django.db import models


class SandboxTrade(models.Model):
    class Status(models.TextChoices):
        WAITING = "waiting", "waiting for the buyer"
        PAID = "paid", "paid"
        CLOSED = "closed", "closed (by the merchant, or a charge that failed)"  # can never be paid

    channel = models.CharField(max_length=16)
    out_trade_no = models.CharField(max_length=64)
    trade_no = models.CharField(max_length=64, unique=True)
    amount_fen = models.PositiveIntegerField()
    subject = models.CharField(max_length=256)
    notify_url = models.URLField(max_length=500)
    return_url = models.URLField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.WAITING)
    created_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    # 支付并签约 (Alipay): the agreement the buyer signs by paying this trade; signed, and notified after the
    # trade's own notification, when the trade is paid.
    signs_agreement = models.ForeignKey(
        "SandboxAgreement", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # WeChat's trade_type: MWEB (H5), NATIVE, PAP (委托代扣). "" for Alipay.
    trade_type = models.CharField(max_length=8, blank=True)
    # A 委托代扣 charge: its contract, the 预扣费通知 it was charged under (none within 12 h of the first signing),
    # the v2 sign type its notification is signed with, and why it failed (err_code, e.g. NOTENOUGH).
    agreement = models.ForeignKey(
        "SandboxAgreement", on_delete=models.PROTECT, null=True, blank=True, related_name="charges"
    )
    notice = models.ForeignKey(
        "SandboxDeductNotice", on_delete=models.PROTECT, null=True, blank=True, related_name="charges"
    )
    v2_sign_type = models.CharField(max_length=16, blank=True)
    err_code = models.CharField(max_length=32, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "out_trade_no"], name="sandbox_trade_once")]

    def __str__(self) -> str:
        return f"{self.channel}:{self.out_trade_no}"


class SandboxRefund(models.Model):
    trade = models.ForeignKey(SandboxTrade, on_delete=models.CASCADE, related_name="refunds")
    out_refund_no = models.CharField(max_length=64)
    refund_id = models.CharField(max_length=64, unique=True)
    amount_fen = models.PositiveIntegerField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["trade", "out_refund_no"], name="sandbox_refund_once")]

    def __str__(self) -> str:
        return self.refund_id


class SandboxAgreement(models.Model):
    """An auto-renew agreement as the channel keeps it (Alipay 周期扣款 / WeChat 委托代扣)."""

    class Status(models.TextChoices):
        TEMP = "TEMP", "waiting for the member to sign"
        NORMAL = "NORMAL", "signed"
        UNSIGN = "UNSIGN", "terminated"

    channel = models.CharField(max_length=16)
    external_no = models.CharField(max_length=32)  # external_agreement_no / out_contract_code
    agreement_no = models.CharField(max_length=64, unique=True)  # agreement_no / contract_id
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.TEMP)
    account_label = models.CharField(max_length=64, blank=True)
    # Whose agreement this is, as the channel knows the shop's member: Alipay by the logon id the shop passes
    # (external_logon_id, the username), WeChat Pay by out_user_code (the user's id). The sandbox's 自动续费管理
    # page and its unsign act for the member logged in to the shop, on these agreements only.
    member_ref = models.CharField(max_length=150, blank=True, db_index=True)
    plan_label = models.CharField(max_length=64, blank=True)
    period_months = models.PositiveSmallIntegerField()
    single_amount_fen = models.PositiveIntegerField()
    next_deduct_date = models.DateField()
    notify_url = models.URLField(max_length=500)
    return_url = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    signed_at = models.DateTimeField(null=True, blank=True)
    unsigned_at = models.DateTimeField(null=True, blank=True)
    unsigned_by = models.CharField(max_length=16, blank=True)  # user | merchant | expiry
    # Test switch: the member's balance is short, so every charge is refused (ACQ.BUYER_BALANCE_NOT_ENOUGH) or,
    # on WeChat, accepted and then failed with NOTENOUGH in the charge notification.
    balance_short = models.BooleanField(default=False)
    # Alipay 周期扣款's signed rule (period_rule_params): planned dates execute_date + k × period (DAY or MONTH).
    # Empty for WeChat agreements and for Alipay ones signed before the rule was kept.
    period_type = models.CharField(max_length=8, blank=True)
    period = models.PositiveSmallIntegerField(null=True, blank=True)
    execute_date = models.DateField(null=True, blank=True)
    total_amount_fen = models.PositiveBigIntegerField(null=True, blank=True)
    total_payments = models.PositiveIntegerField(null=True, blank=True)
    # WeChat 委托代扣 (v2): the template (plan_id), the request's request_serial, the sign type of the signing request
    # (its notifications are signed the same way), and the signer's openid under the appid.
    plan_id = models.PositiveIntegerField(null=True, blank=True)
    request_serial = models.BigIntegerField(null=True, blank=True)
    v2_sign_type = models.CharField(max_length=16, blank=True)
    openid = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_no"], name="sandbox_agreement_once")
        ]

    def __str__(self) -> str:
        return f"{self.channel}:{self.agreement_no}"


class SandboxDeduction(models.Model):
    """One successful 周期扣款 deduction, for one planned date of the agreement's signed schedule: Alipay takes one
    success per planned date (https://developer.aliyun.com/ask/285581), which the unique constraint holds."""

    agreement = models.ForeignKey(SandboxAgreement, on_delete=models.CASCADE, related_name="deductions")
    planned_date = models.DateField()
    trade = models.OneToOneField(SandboxTrade, on_delete=models.CASCADE, related_name="deduction")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "planned_date"], name="sandbox_deduction_once_per_date"
            )
        ]

    def __str__(self) -> str:
        return f"{self.agreement_id}@{self.planned_date}"


class SandboxDeductNotice(models.Model):
    """A WeChat 预扣费通知 (POST /v3/papay/contracts/{contract_id}/notify): the member is told of a coming charge.

    The day it is sent and the next are the waiting period (扣费等待期); the `deduct_days` natural days after it are
    the chargeable period (可扣费期), in which one charge of at most `amount_fen` may succeed (一个扣费周期内只能扣款
    成功一次). https://github.com/wechatpay-apiv3/wechatpay-skills/blob/main/wechatpay-deduction-service/references/
    1-商户/示例代码/2-代扣扣款/预扣费通知.md"""

    agreement = models.ForeignKey(SandboxAgreement, on_delete=models.CASCADE, related_name="notices")
    created_at = models.DateTimeField()
    first_chargeable = models.DateField()  # Beijing date: the notice's date + 2
    last_chargeable = models.DateField()  # first_chargeable + deduct_days - 1
    amount_fen = models.PositiveIntegerField()
    # The charge that succeeded under it: the cycle is used up.
    used_by = models.OneToOneField(
        SandboxTrade, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.agreement}:{self.first_chargeable}..{self.last_chargeable}"


class SandboxNotification(models.Model):
    """A notification the gateway owes the shop, retried on the channel's own schedule until answered."""

    class Event(models.TextChoices):
        TRADE_PAID = "trade_paid"
        TRADE_FAILED = (
            "trade_failed"  # a WeChat 委托代扣 charge that failed (v2 扣款结果通知, result_code FAIL)
        )
        AGREEMENT_SIGNED = "agreement_signed"
        AGREEMENT_UNSIGNED = "agreement_unsigned"

    event = models.CharField(max_length=32, choices=Event.choices, default=Event.TRADE_PAID)
    trade = models.ForeignKey(
        SandboxTrade, on_delete=models.CASCADE, related_name="notifications", null=True, blank=True
    )
    agreement = models.ForeignKey(
        SandboxAgreement, on_delete=models.CASCADE, related_name="notifications", null=True, blank=True
    )
    event_id = models.CharField(max_length=64, unique=True)  # Alipay notify_id / WeChat event id
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)  # None: delivered or given up
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(max_length=255, blank=True)

    class Meta:
        indexes = [models.Index(fields=["next_attempt_at"], name="sandbox_notification_due")]

    def __str__(self) -> str:
        return self.event_id
