"""The sandbox's WeChat Pay 周期扣费 (委托代扣, direct merchant): contracts signed through H5 纯签约, the v3
预扣费通知 before each charge, and the v2 charges with their windows, written from WeChat's own guide.

The guide (one address per page, cited below by its short name):
    G = https://github.com/wechatpay-apiv3/wechatpay-skills/blob/main/wechatpay-deduction-service/references/1-商户/
    开发参数与业务规则 = G + 接入指南/开发参数与业务规则.md
    预扣费通知 = G + 示例代码/2-代扣扣款/预扣费通知.md
    申请扣款 = G + 示例代码/2-代扣扣款/申请扣款.md
    签约-解约结果通知 = G + 示例代码/7-异步结果回调/签约-解约结果通知.md
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import transaction

from kameng.core import clock, locking
from kameng.core.audit import Source, log_action
from kameng.core.errors import DomainError
from kameng.sandbox.error_codes import SandboxErrorCode
from kameng.sandbox.models import SandboxAgreement, SandboxDeductNotice, SandboxNotification, SandboxTrade
from kameng.sandbox.services import open_trade, queue_notification

# The sandbox merchant's 委托代扣 templates (模板 plan_id, set up in the merchant platform; 开发参数与业务规则
# section 一 #7): months per period, and the template's single-charge limit ("扣费类型 = 不高于", section 3.3), in fen.
PLAN_TEMPLATES: dict[int, int] = {10001: 1, 10003: 3, 10012: 12}
TEMPLATE_LIMIT_FEN = 200_000
# 开发参数与业务规则 section 五 / 申请扣款: a charge within 12 h of a first signing executes at once, without a notice.
FIRST_SIGNING_GRACE = timedelta(hours=12)
# 开发参数与业务规则 section 四: 申请扣款 and 预扣费通知 only 07:00–22:00 Beijing time ("强制；签约时间不影响").
OPEN_FROM, OPEN_UNTIL = time(7, 0), time(22, 0)
# 预扣费通知: "扣费持续天数 默认 7 天"; the request's deduct_duration.count is 1–3 DAY.
DEFAULT_DEDUCT_DAYS = 7


def termination_notify_url() -> str:
    """解约结果通知 goes to the URL set on the template, not per request (签约-解约结果通知: "商户配置委托扣款模板 ID
    时填写的解约回调地址"): a sandbox setting, by default the shop's own papay notification URL."""
    configured = settings.KAMENG_SANDBOX_WECHAT_TERMINATION_URL
    return configured or settings.KAMENG_PUBLIC_URL.rstrip("/") + "/payments/notify/wechat/papay/"


def _within_opening_hours(moment: datetime) -> bool:
    return OPEN_FROM <= clock.local(moment).time() < OPEN_UNTIL


def _contract_id() -> str:
    return f"Wx{secrets.randbelow(10**26):026d}"  # as in the guide's examples: Wx15463511252015071056489715


# --- signing ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignRequest:
    plan_id: int
    contract_code: str
    request_serial: int
    contract_display_account: str
    notify_url: str
    sign_type: str


def open_sign_request(request: SignRequest) -> SandboxAgreement:
    """Stores an H5 纯签约 request for the member to confirm (contract_state 9, 签约进行中). The same contract_code
    again is the same request; one already terminated may not be reused (开发参数与业务规则 section 九:
    "签约单号不能重复")."""
    months = PLAN_TEMPLATES.get(request.plan_id)
    if months is None:
        raise DomainError(SandboxErrorCode.PARAM_ERROR, detail="plan_id 不是本商户的委托代扣模板")
    existing = SandboxAgreement.objects.filter(channel="wechat", external_no=request.contract_code).first()
    if existing is not None:
        if existing.status == SandboxAgreement.Status.UNSIGN or existing.plan_id != request.plan_id:
            raise DomainError(SandboxErrorCode.PARAM_ERROR, detail="contract_code 已使用")
        return existing
    return SandboxAgreement.objects.create(
        channel="wechat",
        external_no=request.contract_code,
        agreement_no=_contract_id(),
        account_label=request.contract_display_account[:64],
        plan_label="周期扣费",
        plan_id=request.plan_id,
        request_serial=request.request_serial,
        v2_sign_type=request.sign_type,
        period_months=months,
        single_amount_fen=TEMPLATE_LIMIT_FEN,
        next_deduct_date=clock.now().date(),  # unused on WeChat: the notices carry the dates
        notify_url=request.notify_url,
        created_at=clock.now(),
    )


def find_contract(
    *, contract_id: str = "", plan_id: int | None = None, contract_code: str = ""
) -> SandboxAgreement:
    """By contract_id, or by plan_id + contract_code (查询签约关系 / 申请解约: "任选其一")."""
    contracts = SandboxAgreement.objects.filter(channel="wechat")
    if contract_id:
        found = contracts.filter(agreement_no=contract_id).first()
    else:
        found = contracts.filter(plan_id=plan_id, external_no=contract_code).first()
    if found is None:
        raise DomainError(SandboxErrorCode.CONTRACT_NOT_EXIST)
    return found


# --- 预扣费通知 -----------------------------------------------------------------------------------------------------


@transaction.atomic
def announce_charge(*, contract_id: str, amount_fen: int, deduct_days: int | None) -> SandboxDeductNotice:
    """预扣费通知: 07:00–22:00 only; waiting period = today + tomorrow; then `deduct_days` chargeable days (7 when
    the request gives no deduct_duration). RESOURCE_ALREADY_EXISTS while this contract's last notice still runs."""
    now = clock.now()
    contract = locking.lock_one(
        SandboxAgreement.objects.filter(channel="wechat", agreement_no=contract_id, status="NORMAL")
    )
    if contract is None:
        raise DomainError(SandboxErrorCode.CONTRACT_NOT_EXIST)
    if not _within_opening_hours(now):
        raise DomainError(SandboxErrorCode.RULELIMIT, detail="预扣费通知只能在北京时间 7:00-22:00 发送")
    today = clock.local(now).date()
    if contract.notices.filter(last_chargeable__gte=today).exists():
        raise DomainError(SandboxErrorCode.RESOURCE_ALREADY_EXISTS)
    days = DEFAULT_DEDUCT_DAYS if deduct_days is None else deduct_days
    first = today + timedelta(days=2)  # "扣费等待期: 商户调用本接口成功当日 + 第二个自然日"
    notice = SandboxDeductNotice.objects.create(
        agreement=contract,
        created_at=now,
        first_chargeable=first,
        last_chargeable=first + timedelta(days=days - 1),
        amount_fen=amount_fen,
    )
    log_action(
        action="sandbox.wechat_deduct_notice",
        obj=contract,
        source=Source.SANDBOX,
        data={
            "amount_fen": amount_fen,
            "from": first.isoformat(),
            "until": notice.last_chargeable.isoformat(),
        },
    )
    return notice


# --- 申请扣款 -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChargeRequest:
    contract_id: str
    out_trade_no: str
    total_fee: int
    body: str
    notify_url: str
    sign_type: str


def _charge_refusal(contract: SandboxAgreement, total_fee: int) -> tuple[SandboxDeductNotice | None, str]:
    """(the notice the charge goes under, "") or (None, why it is refused), by the guide's rules."""
    now = clock.now()
    today = clock.local(now).date()
    if not _within_opening_hours(now):
        return None, "扣款只能在北京时间 7:00-22:00 发起"  # 申请扣款; 开发参数与业务规则 section 四
    if total_fee > contract.single_amount_fen:
        return None, "超过模板单笔限额"  # 开发参数与业务规则 section 3.3
    succeeded = contract.charges.filter(status=SandboxTrade.Status.PAID)
    if any(clock.local(t.paid_at).date() == today for t in succeeded):
        return None, "同一签约协议每日成功扣款 1 次"  # 开发参数与业务规则 section 四
    if now - contract.signed_at <= FIRST_SIGNING_GRACE and not succeeded.exists():
        return (
            None,
            "",
        )  # 开发参数与业务规则 section 五: first signing, within 12 h: at once, no notice needed
    notice = contract.notices.order_by("-created_at").first()
    if notice is None:
        return None, "未发送预扣费通知"  # 申请扣款: "扣费前需要先调用预扣费通知"
    if today < notice.first_chargeable:
        return None, "扣费等待期内不能扣款"  # 预扣费通知: 扣费等待期
    if today > notice.last_chargeable:
        return None, "可扣费期已过,需重新发送预扣费通知"  # 开发参数与业务规则 section 九
    if notice.used_by_id is not None:
        return None, "一个扣费周期内只能扣款成功一次"  # 预扣费通知
    if total_fee > notice.amount_fen:
        return None, "扣款金额超过预扣费通知的金额"
    return notice, ""


def charge(request: ChargeRequest) -> SandboxTrade:
    """Takes a charge (受理): the money moves at once in the sandbox, and the v2 扣款结果通知 follows, SUCCESS or a
    failure (NOTENOUGH for a payer marked short of balance). Same out_trade_no: charged once (申请扣款)."""
    with transaction.atomic():
        contract = locking.lock_one(
            SandboxAgreement.objects.filter(channel="wechat", agreement_no=request.contract_id)
        )
        if contract is None or contract.status != SandboxAgreement.Status.NORMAL:
            raise DomainError(SandboxErrorCode.CONTRACT_NOT_EXIST)
        before = SandboxTrade.objects.filter(channel="wechat", out_trade_no=request.out_trade_no).first()
        if before is not None:
            if before.status == SandboxTrade.Status.PAID:
                raise DomainError(SandboxErrorCode.ORDERPAID)
            raise DomainError(
                SandboxErrorCode.ORDERCLOSED
            )  # 开发参数与业务规则 section 九: 扣款失败自动关单, 换单号
        notice, refusal = _charge_refusal(contract, request.total_fee)
        if refusal:
            raise DomainError(SandboxErrorCode.RULELIMIT, detail=refusal)
        trade = open_trade(
            channel="wechat",
            out_trade_no=request.out_trade_no,
            amount_fen=request.total_fee,
            subject=request.body[:256],
            notify_url=request.notify_url,
            return_url="",
        )
        trade.trade_type, trade.agreement, trade.notice = "PAP", contract, notice
        trade.v2_sign_type = request.sign_type
        if contract.balance_short:
            trade.status, trade.err_code = SandboxTrade.Status.CLOSED, "NOTENOUGH"
            event = SandboxNotification.Event.TRADE_FAILED
        else:
            trade.status, trade.paid_at = SandboxTrade.Status.PAID, clock.now()
            event = SandboxNotification.Event.TRADE_PAID
        trade.save()
        if notice is not None and trade.status == SandboxTrade.Status.PAID:
            notice.used_by = trade
            notice.save(update_fields=["used_by"])
        queue_notification(event=event, trade=trade)
        log_action(
            action="sandbox.wechat_papay_charge",
            obj=trade,
            source=Source.SANDBOX,
            data={
                "contract_id": contract.agreement_no,
                "amount_fen": trade.amount_fen,
                "err_code": trade.err_code,
            },
        )
        return trade
