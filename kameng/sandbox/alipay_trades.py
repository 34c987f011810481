"""The sandbox's Alipay products, on its own books: page pay with or without 支付并签约, 当面付 precreate, the
周期扣款 sign request, and the deduction against a signed agreement inside its window.

Requests reach here parsed and checked by alipay_rules; each rule is cited where it is applied."""

import calendar
import secrets
from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction

from kameng.core import clock, locking
from kameng.core.audit import Source, log_action
from kameng.core.errors import DomainError
from kameng.sandbox import alipay_rules as rules
from kameng.sandbox.alipay_rules import AlipayRefusal, CycleRule
from kameng.sandbox.error_codes import SandboxErrorCode
from kameng.sandbox.models import SandboxAgreement, SandboxDeduction, SandboxTrade
from kameng.sandbox.services import open_trade, pay

# Alipay allows a deduction from 5 days before each planned date up to that date: "execute_time=2019-07-06 …
# 可执行扣款时间:2019-07-01至06" (Alipay's 周期/商家扣款 page on changing the deduction date, 2024-05 revision, as
# mirrored at https://www.5851388.com/s01rg2g/pathhash=8b98e287.html; its 2020 support answers said 3 days).
DAYS_BEFORE_PLANNED = 5
PAGE_PAY_PRODUCTS = {
    "alipay.trade.wap.pay": "QUICK_WAP_WAY",
    "alipay.trade.page.pay": "FAST_INSTANT_TRADE_PAY",
}
# 当面付: 如果签约的是当面付快捷版,则传OFFLINE_PAYMENT;其它支付宝当面付产品传FACE_TO_FACE_PAYMENT;不传默认
# FACE_TO_FACE_PAYMENT (alipay.trade.precreate, product_code).
PRECREATE_PRODUCTS = {"FACE_TO_FACE_PAYMENT", "OFFLINE_PAYMENT"}


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def planned_date(agreement: SandboxAgreement, k: int) -> date:
    """The k-th planned deduction date: execute_time + k × period. MONTH is a 自然月 (the same day of the month,
    which exists in every month because execute_time's day is at most 28)."""
    if agreement.period_type == "DAY":
        return agreement.execute_date + timedelta(days=k * agreement.period)
    return _add_months(agreement.execute_date, k * agreement.period)


def _new_agreement_no() -> str:
    return clock.now().strftime("%Y") + f"{secrets.randbelow(10**16):016d}"


def _open_cycle_agreement(
    *, sign: dict, rule: CycleRule, notify_url: str, return_url: str
) -> SandboxAgreement:
    """A 周期扣款 sign request (TEMP until the member signs); the same external_agreement_no again is the same one,
    unless it was terminated."""
    external_no = sign.get("external_agreement_no") or secrets.token_hex(8)
    existing = SandboxAgreement.objects.filter(channel="alipay", external_no=external_no).first()
    if existing is not None:
        if existing.status == SandboxAgreement.Status.UNSIGN:
            raise AlipayRefusal(SandboxErrorCode.AGREEMENT_HAS_UNSIGNED)
        return existing
    logon_id = str(sign.get("external_logon_id", ""))
    try:
        with transaction.atomic():
            return SandboxAgreement.objects.create(
                channel="alipay",
                external_no=external_no,
                agreement_no=_new_agreement_no(),
                account_label=logon_id[:64],
                member_ref=logon_id[:150],
                plan_label="周期扣款",
                period_months=rule.period if rule.period_type == "MONTH" else 0,
                single_amount_fen=rule.single_amount_fen,
                next_deduct_date=rule.execute_date,
                period_type=rule.period_type,
                period=rule.period,
                execute_date=rule.execute_date,
                total_amount_fen=rule.total_amount_fen,
                total_payments=rule.total_payments,
                notify_url=notify_url,
                return_url=return_url,
                created_at=clock.now(),
            )
    except IntegrityError:
        return SandboxAgreement.objects.get(channel="alipay", external_no=external_no)


def open_sign_request(biz: dict, params: dict[str, str]) -> SandboxAgreement:
    """alipay.user.agreement.page.sign (先签约后扣款): the member's browser brings it to the signing page."""
    rule = rules.cycle_rule(biz)
    return _open_cycle_agreement(
        sign=biz, rule=rule, notify_url=params.get("notify_url", ""), return_url=params.get("return_url", "")
    )


def open_page_pay(method: str, biz: dict, params: dict[str, str]) -> SandboxTrade:
    """alipay.trade.wap.pay / page.pay as the buyer's browser brings it; with agreement_sign_params, 支付并签约:
    paying also signs the 周期扣款 agreement."""
    amount_fen = rules.amount_fen(biz["total_amount"], "total_amount")
    out_trade_no = rules.out_trade_no(biz)
    sign = biz.get("agreement_sign_params")
    # agreement_sign_params: 周期扣款场景 product_code 为 CYCLE_PAY_AUTH 时必填 (支付并签约, alipay.trade.app.pay's
    # page, the structure wap.pay / page.pay take too).
    if biz["product_code"] == rules.CYCLE_PRODUCT and not sign:
        raise rules.invalid("product_code 为 CYCLE_PAY_AUTH 时 agreement_sign_params 必填")
    if sign and biz["product_code"] != rules.CYCLE_PRODUCT:
        raise rules.invalid("agreement_sign_params 仅用于 product_code CYCLE_PAY_AUTH")
    agreement = None
    with transaction.atomic():
        if sign:
            agreement = _open_cycle_agreement(
                sign=sign,
                rule=rules.cycle_rule(sign),
                # The sign notification goes to sign_notify_url (SignParams) when given, else to notify_url.
                notify_url=sign.get("sign_notify_url") or params.get("notify_url", ""),
                return_url=params.get("return_url", ""),
            )
        trade = _open_unpaid(out_trade_no, amount_fen, biz, params)
        if agreement is not None and trade.signs_agreement_id is None:
            trade.signs_agreement = agreement
            trade.save(update_fields=["signs_agreement"])
    return trade


def _open_unpaid(out_trade_no: str, amount_fen: int, biz: dict, params: dict[str, str]) -> SandboxTrade:
    try:
        trade = open_trade(
            channel="alipay",
            out_trade_no=out_trade_no,
            amount_fen=amount_fen,
            subject=biz["subject"],
            notify_url=params.get("notify_url", ""),
            return_url=params.get("return_url", ""),
        )
    except DomainError as exc:
        if exc.code == SandboxErrorCode.TRADE_EXISTS:
            raise rules.invalid("同一 out_trade_no 已有金额不同的交易") from None
        raise
    return trade


def precreate(biz: dict, params: dict[str, str]) -> dict:
    """alipay.trade.precreate (当面付): the trade waits for a buyer to scan qr_code; paying it there notifies."""
    if biz.get("product_code", "FACE_TO_FACE_PAYMENT") not in PRECREATE_PRODUCTS:
        raise rules.invalid("product_code 为 FACE_TO_FACE_PAYMENT 或 OFFLINE_PAYMENT")
    amount_fen = rules.amount_fen(biz["total_amount"], "total_amount")
    trade = _open_unpaid(rules.out_trade_no(biz), amount_fen, biz, params)
    if trade.status == SandboxTrade.Status.PAID:
        raise AlipayRefusal(SandboxErrorCode.TRADE_HAS_SUCCESS)
    return {"out_trade_no": trade.out_trade_no, "qr_code": qr_url(trade)}


def qr_url(trade: SandboxTrade) -> str:
    """Where the QR code leads: the sandbox's scan page (Alipay's own is https://qr.alipay.com/bax…)."""
    return f"{settings.KAMENG_PUBLIC_URL.rstrip('/')}/sandbox/alipay/qr/{trade.trade_no}"


def deduct(*, biz: dict, notify_url: str) -> SandboxTrade:
    """alipay.trade.pay with product_code CYCLE_PAY_AUTH and agreement_params: one deduction against a signed
    周期扣款 agreement, refused outside the window of its next planned date, above single_amount, twice for one
    planned date, or on an agreement that is not NORMAL (alipay.trade.pay 商家扣款 error table)."""
    if biz.get("product_code") != rules.CYCLE_PRODUCT:
        # The sandbox merchant has signed 周期扣款 and 当面付 (precreate) only: no 条码支付 (FACE_TO_FACE_PAYMENT with
        # auth_code) nor 商家扣款 of another kind.
        raise AlipayRefusal(SandboxErrorCode.ACCESS_FORBIDDEN, "沙箱商户只签约了周期扣款 CYCLE_PAY_AUTH")
    agreement_no = (biz.get("agreement_params") or {}).get("agreement_no")
    if not agreement_no:
        raise rules.invalid("缺少必选参数 agreement_params.agreement_no")
    amount_fen = rules.amount_fen(biz["total_amount"], "total_amount")
    out_trade_no = rules.out_trade_no(biz)
    with transaction.atomic():
        agreement = locking.lock_one(
            SandboxAgreement.objects.filter(channel="alipay", agreement_no=str(agreement_no))
        )
        if agreement is None:
            raise AlipayRefusal(SandboxErrorCode.AGREEMENT_NOT_EXIST)
        done = SandboxTrade.objects.filter(channel="alipay", out_trade_no=out_trade_no, status="paid").first()
        if done is not None:
            if done.amount_fen != amount_fen:
                raise AlipayRefusal(SandboxErrorCode.TRADE_HAS_SUCCESS)
            return done  # the same deduction asked again (a retry after a lost answer): answered again
        if agreement.status == SandboxAgreement.Status.UNSIGN:
            raise AlipayRefusal(SandboxErrorCode.AGREEMENT_INVALID)
        if agreement.status != SandboxAgreement.Status.NORMAL:
            raise AlipayRefusal(SandboxErrorCode.AGREEMENT_STATUS_NOT_NORMAL)
        made = agreement.deductions.count()
        planned = planned_date(agreement, made)
        today = clock.now().date()
        # The window of the next planned date; a missed date keeps the agreement on it ("上一周期未扣款成功…超过
        # 约定扣款时间进行扣款就会报错"), and after a success the next date is a period on, so a second deduction in
        # the same window is refused too (https://developer.aliyun.com/ask/285581).
        if not planned - timedelta(days=DAYS_BEFORE_PLANNED) <= today <= planned:
            raise AlipayRefusal(
                SandboxErrorCode.CYCLE_PAY_DATE_NOT_MATCH,
                f"扣款日期不在签约时的允许范围之内:下次扣款日 {planned.isoformat()},"
                f"可扣款 {(planned - timedelta(days=DAYS_BEFORE_PLANNED)).isoformat()} 至 {planned.isoformat()}",
            )
        if amount_fen > agreement.single_amount_fen:
            raise AlipayRefusal(SandboxErrorCode.CYCLE_PAY_SINGLE_FEE_EXCEED)
        if agreement.total_payments is not None and made >= agreement.total_payments:
            raise AlipayRefusal(SandboxErrorCode.CYCLE_PAY_TOTAL_TIMES_EXCEED)
        if agreement.total_amount_fen is not None:
            taken = sum(d.trade.amount_fen for d in agreement.deductions.select_related("trade"))
            if taken + amount_fen > agreement.total_amount_fen:
                raise AlipayRefusal(SandboxErrorCode.CYCLE_PAY_TOTAL_FEE_EXCEED)
        if agreement.balance_short:
            raise AlipayRefusal(SandboxErrorCode.BUYER_BALANCE_NOT_ENOUGH)
        trade = _open_unpaid(out_trade_no, amount_fen, biz, {"notify_url": notify_url})
        trade = pay(trade=trade)
        SandboxDeduction.objects.create(agreement=agreement, planned_date=planned, trade=trade)
        agreement.next_deduct_date = planned_date(agreement, made + 1)
        agreement.save(update_fields=["next_deduct_date"])
        log_action(
            action="sandbox.deducted",
            obj=agreement,
            source=Source.SANDBOX,
            data={
                "planned_date": planned.isoformat(),
                "amount_fen": amount_fen,
                "out_trade_no": out_trade_no,
            },
        )
        return trade
