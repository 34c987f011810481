"""The sandbox gateway's agreements (Alipay 周期扣款 / WeChat Pay 委托代扣): sign requests, the member's signing and
switching off, and the merchant's charges against a signed agreement."""

import secrets
from datetime import date
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from kameng.core import clock, locking
from kameng.core.audit import Source, log_action
from kameng.core.errors import DomainError
from kameng.sandbox import keys
from kameng.sandbox.error_codes import SandboxErrorCode
from kameng.sandbox.models import SandboxAgreement, SandboxNotification, SandboxTrade
from kameng.sandbox.services import open_trade, pay, queue_notification


def _agreement_no(channel: str) -> str:
    if channel == "wechat":
        return f"2{secrets.randbelow(10**18):018d}"  # contract_id
    return clock.now().strftime("%Y") + f"{secrets.randbelow(10**16):016d}"  # agreement_no


def open_agreement(
    *,
    channel: str,
    external_no: str,
    account_label: str,
    member_ref: str,
    plan_label: str,
    period_months: int,
    single_amount_fen: int,
    next_deduct_date: date,
    notify_url: str,
    return_url: str,
) -> SandboxAgreement:
    """Stores a sign request (status TEMP) for the member to confirm; the same request twice is the same one."""
    if not external_no.isalnum() or len(external_no) > 32:
        raise DomainError(SandboxErrorCode.INVALID_PARAMETER)
    if period_months not in (1, 3, 12) or single_amount_fen <= 0:
        raise DomainError(SandboxErrorCode.INVALID_PARAMETER)
    existing = SandboxAgreement.objects.filter(channel=channel, external_no=external_no).first()
    if existing is not None:
        if existing.status == SandboxAgreement.Status.UNSIGN:
            raise DomainError(SandboxErrorCode.AGREEMENT_HAS_UNSIGNED)
        return existing
    try:
        with transaction.atomic():
            return SandboxAgreement.objects.create(
                channel=channel,
                external_no=external_no,
                agreement_no=_agreement_no(channel),
                account_label=account_label[:64],
                member_ref=member_ref[:150],
                plan_label=plan_label[:64],
                period_months=period_months,
                single_amount_fen=single_amount_fen,
                next_deduct_date=next_deduct_date,
                notify_url=notify_url,
                return_url=return_url,
                created_at=clock.now(),
            )
    except IntegrityError:
        return SandboxAgreement.objects.get(channel=channel, external_no=external_no)


def agreement_from_sign_url(sign_url: str) -> SandboxAgreement:
    """What the member's browser does with the shop's sign link, for scripts and tests without a browser."""
    parts = urlsplit(sign_url)
    if parts.path.endswith("/alipay/gateway.do"):
        from kameng.sandbox.alipay_views import (
            sign_request_agreement,  # here: the Alipay views import this one
        )

        return sign_request_agreement(dict(parse_qsl(parts.query, keep_blank_values=True)))
    external_no = parts.path.rstrip("/").removesuffix("/sign").rsplit("/", 1)[-1]
    agreement = SandboxAgreement.objects.filter(channel="wechat", external_no=external_no).first()
    if agreement is None:
        raise DomainError(SandboxErrorCode.UNKNOWN_AGREEMENT)
    return agreement


@transaction.atomic
def sign_agreement(*, agreement: SandboxAgreement, member_ref: str = "") -> SandboxAgreement:
    """The member confirms on the channel's signing page; the sign notification follows once.

    `member_ref`: who signs, when the channel learns it only then (WeChat's H5 纯签约 names no user: whoever is
    logged in to WeChat signs; in the sandbox, the shop member whose browser or order it is)."""
    agreement = locking.lock_one(SandboxAgreement.objects.filter(pk=agreement.pk))
    if agreement.status == SandboxAgreement.Status.NORMAL:
        return agreement
    if agreement.status == SandboxAgreement.Status.UNSIGN:
        raise DomainError(SandboxErrorCode.AGREEMENT_HAS_UNSIGNED)
    agreement.status, agreement.signed_at = SandboxAgreement.Status.NORMAL, clock.now()
    if agreement.channel == "wechat":
        agreement.member_ref = agreement.member_ref or member_ref[:150]
        agreement.openid = f"o{keys.WECHAT_APPID[2:10]}-{agreement.member_ref or 'guest'}"
    agreement.save(update_fields=["status", "signed_at", "member_ref", "openid"])
    queue_notification(event=SandboxNotification.Event.AGREEMENT_SIGNED, agreement=agreement)
    log_action(action="sandbox.agreement_signed", obj=agreement, source=Source.SANDBOX)
    return agreement


def of_member(member) -> QuerySet[SandboxAgreement]:
    """The agreements the channel holds for this shop member (see SandboxAgreement.member_ref): what the
    channel app's 自动续费管理 shows the member logged in to the shop, and all that it lets them switch off."""
    return SandboxAgreement.objects.filter(
        Q(channel="alipay", member_ref=member.get_username()) | Q(channel="wechat", member_ref=str(member.pk))
    )


@transaction.atomic
def unsign_agreement(
    *, agreement_no: str, by: str = "user", notify: bool = True, member=None
) -> SandboxAgreement:
    """Ends an agreement: the member in the channel's app (by="user"), the merchant's unsign API
    (by="merchant"), or a silent expiry (notify=False: the channels send nothing then). Once.

    With a `member`, only one of that member's own agreements: another's is as unknown as one that never was."""
    mine = of_member(member) if member is not None else SandboxAgreement.objects.all()
    agreement = locking.lock_one(mine.filter(agreement_no=agreement_no))
    if agreement is None:
        raise DomainError(SandboxErrorCode.USER_AGREEMENT_NOT_EXIST)
    if agreement.status == SandboxAgreement.Status.UNSIGN:
        return agreement
    agreement.status, agreement.unsigned_at = SandboxAgreement.Status.UNSIGN, clock.now()
    agreement.unsigned_by = by if notify else "expiry"
    agreement.save(update_fields=["status", "unsigned_at", "unsigned_by"])
    if notify:
        queue_notification(event=SandboxNotification.Event.AGREEMENT_UNSIGNED, agreement=agreement)
    log_action(
        action="sandbox.agreement_unsigned",
        obj=agreement,
        actor=member,
        source=Source.SANDBOX,
        data={"by": by},
    )
    return agreement


def find_agreement(*, channel: str, agreement_no: str = "", external_no: str = "") -> SandboxAgreement:
    query = SandboxAgreement.objects.filter(channel=channel)
    found = (
        query.filter(agreement_no=agreement_no).first()
        if agreement_no
        else query.filter(external_no=external_no).first()
    )
    if found is None:
        raise DomainError(SandboxErrorCode.USER_AGREEMENT_NOT_EXIST)
    return found


def charge_agreement(
    *, channel: str, agreement_no: str, out_trade_no: str, amount_fen: int, subject: str, notify_url: str
) -> SandboxTrade:
    """The merchant charges a signed agreement (alipay.trade.pay CYCLE_PAY_AUTH / papay transactions/apply)."""
    with transaction.atomic():
        agreement = locking.lock_one(
            SandboxAgreement.objects.filter(channel=channel, agreement_no=agreement_no)
        )
        if agreement is None:
            raise DomainError(SandboxErrorCode.AGREEMENT_NOT_EXIST)
        done = SandboxTrade.objects.filter(channel=channel, out_trade_no=out_trade_no, status="paid").first()
        if done is not None:
            return done  # the same charge asked again: answered again, charged once
        if agreement.status != SandboxAgreement.Status.NORMAL:
            raise DomainError(SandboxErrorCode.AGREEMENT_INVALID)
        if amount_fen > agreement.single_amount_fen:
            raise DomainError(SandboxErrorCode.EXCEED_SINGLE_AMOUNT)
        if agreement.balance_short:
            raise DomainError(SandboxErrorCode.BUYER_BALANCE_NOT_ENOUGH)
        trade = open_trade(
            channel=channel,
            out_trade_no=out_trade_no,
            amount_fen=amount_fen,
            subject=subject,
            notify_url=notify_url,
            return_url="",
        )
        return pay(trade=trade)


@transaction.atomic
def set_balance_short(*, agreement_no: str, short: bool) -> SandboxAgreement:
    """Test switch: makes the member's charges fail (or succeed again)."""
    agreement = locking.lock_one(SandboxAgreement.objects.filter(agreement_no=agreement_no))
    if agreement is None:
        raise DomainError(SandboxErrorCode.UNKNOWN_AGREEMENT)
    agreement.balance_short = short
    agreement.save(update_fields=["balance_short"])
    return agreement


def wechat_sign_url(agreement: SandboxAgreement) -> str:
    return f"{settings.KAMENG_PUBLIC_URL.rstrip('/')}/sandbox/agreements/{agreement.external_no}/sign?channel=wechat"
