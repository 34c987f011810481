"""The sandbox gateway's behaviour: take trades, take payments, send signed notifications, pay refunds.

It speaks to the shop only through the channels' protocols (signed HTTP both ways), as the real gateways do.
"""

import logging
import secrets
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Min, QuerySet

from kameng.core import clock, http, locking, sweeps
from kameng.core.audit import Source, log_action
from kameng.core.errors import DomainError
from kameng.core.money import yuan_str
from kameng.protocols import alipay as alipay_protocol
from kameng.protocols import wechat as wechat_protocol
from kameng.sandbox import keys
from kameng.sandbox.error_codes import SandboxErrorCode
from kameng.sandbox.models import SandboxAgreement, SandboxNotification, SandboxRefund, SandboxTrade

log = logging.getLogger(__name__)
# Retry schedules as the channels document them (seconds after the previous attempt).
RETRY_SCHEDULE = {
    "alipay": [240, 600, 600, 3600, 7200, 21600, 54000],
    "wechat": [15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600],
}
LEASE_SECONDS = 60


# --- the staff's hooks: the test clock and the sweeps --------------------------------------------------------------


@transaction.atomic
def move_clock(*, seconds: int, actor) -> tuple[datetime, int]:
    """Moves the test clock forward for every process; audit-logged with who moved it. Returns (now, offset)."""
    offset = clock.advance(seconds=seconds)
    log_action(
        action="sandbox.clock_moved",
        actor=actor,
        source=Source.API,
        data={"advance_seconds": seconds, "offset_seconds": offset},
    )
    return clock.now(), offset


def run_due_sweeps(*, actor) -> dict[str, int]:
    """Runs every due sweep now, outside any transaction (the sweeps call the channels and commit as they go), then
    records who asked and what was done."""
    done = sweeps.run_due_sweeps()
    log_action(action="sandbox.sweeps_run", actor=actor, source=Source.API, data=done)
    return done


def _trade_no(channel: str) -> str:
    stamp = clock.now().strftime("%Y%m%d%H%M%S")
    prefix = "4200" if channel == "wechat" else "2026"
    return f"{prefix}{stamp}{secrets.randbelow(10**10):010d}"


# --- taking trades ------------------------------------------------------------------------------------------------


def open_trade(
    *, channel: str, out_trade_no: str, amount_fen: int, subject: str, notify_url: str, return_url: str
) -> SandboxTrade:
    """Creates the trade the merchant asked for, or returns it again for the same order and amount."""
    if amount_fen <= 0:
        raise DomainError(SandboxErrorCode.BAD_AMOUNT)
    try:
        with transaction.atomic():
            return SandboxTrade.objects.create(
                channel=channel,
                out_trade_no=out_trade_no,
                trade_no=_trade_no(channel),
                amount_fen=amount_fen,
                subject=subject,
                notify_url=notify_url,
                return_url=return_url,
                created_at=clock.now(),
            )
    except IntegrityError:
        trade = SandboxTrade.objects.get(channel=channel, out_trade_no=out_trade_no)
        if trade.amount_fen != amount_fen:
            raise DomainError(SandboxErrorCode.TRADE_EXISTS) from None
        return trade


def trade_from_pay_url(pay_url: str) -> SandboxTrade:
    """What the buyer's browser does with the shop's pay link, for scripts that pay without a browser."""
    parts = urlsplit(pay_url)
    if parts.path.endswith("/alipay/gateway.do"):
        from kameng.sandbox.alipay_views import page_pay_trade  # here: the Alipay views import this module

        return page_pay_trade(dict(parse_qsl(parts.query, keep_blank_values=True)))
    prepay_id = parts.path.rstrip("/").rsplit("/", 1)[-1]
    trade = SandboxTrade.objects.filter(channel="wechat", trade_no=prepay_id).first()
    if trade is None:
        raise DomainError(SandboxErrorCode.UNKNOWN_TRADE)
    return trade


# --- paying ---------------------------------------------------------------------------------------------------------


@transaction.atomic
def pay(*, trade: SandboxTrade) -> SandboxTrade:
    """The buyer confirms in the channel's cashier. Paying twice is a no-op; a notification is queued once."""
    if trade.signs_agreement_id is not None:  # 支付并签约: LOCK_ORDER takes the agreement before the trade
        locking.lock_one(SandboxAgreement.objects.filter(pk=trade.signs_agreement_id))
    trade = locking.lock_one(SandboxTrade.objects.filter(pk=trade.pk))
    if trade.status == SandboxTrade.Status.PAID:
        return trade
    if trade.status == SandboxTrade.Status.CLOSED:  # the merchant closed it, or a charge failed: never paid
        if trade.channel == "alipay":
            raise DomainError(SandboxErrorCode.TRADE_HAS_CLOSE)
        raise DomainError(SandboxErrorCode.TRADE_ERROR, detail="订单已关闭")
    trade.status, trade.paid_at = SandboxTrade.Status.PAID, clock.now()
    trade.save(update_fields=["status", "paid_at"])
    queue_notification(event=SandboxNotification.Event.TRADE_PAID, trade=trade)
    if trade.signs_agreement_id is not None:  # 支付并签约: the agreement is signed by paying, notified after
        from kameng.sandbox.agreements import sign_agreement  # here: agreements imports this module

        sign_agreement(agreement=trade.signs_agreement)
    log_action(
        action="sandbox.paid",
        obj=trade,
        source=Source.SANDBOX,
        data={"out_trade_no": trade.out_trade_no, "amount_fen": trade.amount_fen},
    )
    return trade


@transaction.atomic
def close_trade(*, trade: SandboxTrade) -> SandboxTrade:
    """The merchant closes an unpaid trade, so it can no longer be paid; closing it again changes nothing."""
    trade = locking.lock_one(SandboxTrade.objects.filter(pk=trade.pk))
    if trade.status == SandboxTrade.Status.PAID:
        raise DomainError(SandboxErrorCode.TRADE_ERROR, detail="订单已支付,不能关单")
    if trade.status == SandboxTrade.Status.WAITING:
        trade.status = SandboxTrade.Status.CLOSED
        trade.save(update_fields=["status"])
        log_action(
            action="sandbox.closed",
            obj=trade,
            source=Source.SANDBOX,
            data={"out_trade_no": trade.out_trade_no},
        )
    return trade


def queue_notification(*, event: str, trade=None, agreement=None) -> None:
    """Owes the shop a notification, sent once this transaction commits. With KAMENG_SANDBOX_NOTIFY off the
    sandbox sends none at all (a channel that gave up notifying): the shop must learn by asking."""
    if not settings.KAMENG_SANDBOX_NOTIFY:
        return
    event_id = clock.now().strftime("%Y%m%d") + f"{secrets.randbelow(10**24):024d}"
    SandboxNotification.objects.create(
        event=event, trade=trade, agreement=agreement, event_id=event_id, next_attempt_at=clock.now()
    )
    from kameng.sandbox.tasks import deliver_notifications  # here: the task module imports this one

    transaction.on_commit(deliver_notifications.delay)


# --- notifying ------------------------------------------------------------------------------------------------------


def _alipay_notification(note: SandboxNotification) -> tuple[dict[str, str], bytes]:
    trade = note.trade
    params = {
        "notify_id": note.event_id,
        "notify_type": "trade_status_sync",
        "notify_time": clock.stamp(clock.now()),
        "charset": "utf-8",
        "version": "1.0",
        "app_id": keys.ALIPAY_APP_ID,
        "auth_app_id": keys.ALIPAY_APP_ID,
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "trade_status": "TRADE_SUCCESS",
        "total_amount": yuan_str(trade.amount_fen),
        "receipt_amount": yuan_str(trade.amount_fen),
        "subject": trade.subject,
        "gmt_create": clock.stamp(trade.created_at),
        "gmt_payment": clock.stamp(trade.paid_at),
        "seller_id": "2088000000000002",
        "buyer_id": "2088000000000003",
    }
    params = {name: value for name, value in params.items() if value}  # never an empty value: see below
    signed = alipay_protocol.sign_notification(params, keys.sandbox_keys()["alipay_private"])
    return {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, urlencode(signed).encode()


def _wechat_notification(note: SandboxNotification) -> tuple[dict[str, str], bytes]:
    trade = note.trade
    k = keys.sandbox_keys()
    resource = {
        "mchid": keys.WECHAT_MCHID,
        "appid": keys.WECHAT_APPID,
        "out_trade_no": trade.out_trade_no,
        "transaction_id": trade.trade_no,
        "trade_type": trade.trade_type or "MWEB",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "success_time": clock.local(trade.paid_at).isoformat(timespec="seconds"),
        "payer": {"openid": "o-sandbox-buyer"},
        "amount": {
            "total": trade.amount_fen,
            "payer_total": trade.amount_fen,
            "currency": "CNY",
            "payer_currency": "CNY",
        },
    }
    headers, body = wechat_protocol.build_callback(
        event_type="TRANSACTION.SUCCESS",
        summary="支付成功",
        resource_plain=resource,
        resource_type_original="transaction",
        apiv3_key=k["wechat_apiv3_key"],
        platform_private_key_pem=k["wechat_platform_private"],
        platform_serial=k["wechat_platform_serial"],
        now_ts=int(clock.now().timestamp()),
        event_id=note.event_id,
    )
    return {"Content-Type": "application/json", **headers}, body


def _stamp(moment) -> str:
    return clock.stamp(moment) if moment else ""


def _alipay_agreement_notification(note: SandboxNotification) -> tuple[dict[str, str], bytes]:
    agreement = note.agreement
    signed = note.event == SandboxNotification.Event.AGREEMENT_SIGNED
    params = {
        "notify_id": note.event_id,
        "notify_type": "dut_user_sign" if signed else "dut_user_unsign",
        "notify_time": clock.stamp(clock.now()),
        "charset": "utf-8",
        "version": "1.0",
        "app_id": keys.ALIPAY_APP_ID,
        "auth_app_id": keys.ALIPAY_APP_ID,
        "agreement_no": agreement.agreement_no,
        "external_agreement_no": agreement.external_no,
        "personal_product_code": "CYCLE_PAY_AUTH_P",
        "sign_scene": "INDUSTRY|DIGITAL_MEDIA",
        "status": "NORMAL" if signed else "UNSIGN",
        "sign_time": _stamp(agreement.signed_at),
        "valid_time": _stamp(agreement.signed_at),
        "invalid_time": "2115-02-01 00:00:00",
        "alipay_user_id": "2088000000000003",
        "alipay_logon_id": agreement.account_label,
    }
    if not signed:
        params["unsign_time"] = _stamp(agreement.unsigned_at)
    # Every value Alipay sends is signed, empty ones included, and the SDKs verify them so (python-alipay-sdk's
    # verify keeps them): a field with no value is left out, never sent empty.
    params = {name: value for name, value in params.items() if value}
    signed_params = alipay_protocol.sign_notification(params, keys.sandbox_keys()["alipay_private"])
    return {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, urlencode(
        signed_params
    ).encode()


def _accepted(channel: str, reply: http.HttpReply) -> bool:
    if channel == "alipay":
        return reply.status == 200 and reply.body.strip() == b"success"
    return reply.status in (200, 204)


def deliver_due_notifications(*, limit: int = 200) -> int:
    """Sends every due notification (signed afresh each time, as the channels do); returns how many were accepted."""
    accepted = 0
    for note in sweeps.lease_due(due=_due_notifications, lease=_lease_notification, limit=limit):
        accepted += _send(note)
    return accepted


def next_notification_due() -> datetime | None:
    return SandboxNotification.objects.aggregate(at=Min("next_attempt_at"))["at"]  # None once delivered


def _due_notifications() -> QuerySet[SandboxNotification]:
    return (
        SandboxNotification.objects.select_related("trade", "agreement")
        .filter(next_attempt_at__lte=clock.now())
        .order_by("next_attempt_at", "id")
    )


def _lease_notification(note: SandboxNotification) -> SandboxNotification:
    note.attempts += 1
    note.next_attempt_at = clock.now() + timedelta(seconds=LEASE_SECONDS)
    note.save(update_fields=["attempts", "next_attempt_at"])
    return note


def _send(note: SandboxNotification) -> bool:
    from kameng.sandbox import wechat_notifications  # here: it builds on papay, which builds on this module

    if wechat_notifications.handles(note):  # WeChat 委托代扣: API v2 XML, its own schedules and answer
        v2 = wechat_notifications.outgoing(note)
        return _post(note, v2.url, v2.headers, v2.body, v2.retries, wechat_notifications.accepted)
    if note.event == SandboxNotification.Event.TRADE_PAID:
        channel, notify_url = note.trade.channel, note.trade.notify_url
        headers, body = (_alipay_notification if channel == "alipay" else _wechat_notification)(note)
    else:
        channel, notify_url = note.agreement.channel, note.agreement.notify_url
        headers, body = _alipay_agreement_notification(note)
    return _post(
        note, notify_url, headers, body, RETRY_SCHEDULE[channel], lambda reply: _accepted(channel, reply)
    )


def _post(note, notify_url: str, headers: dict, body: bytes, schedule: list[int], accepted) -> bool:
    try:
        reply = http.post(notify_url, body=body, headers=headers)
        ok, status = accepted(reply), f"HTTP {reply.status} {reply.body[:100]!r}"
    except http.TransportError as exc:
        ok, status = False, str(exc)[:200]
    if ok:
        note.delivered_at, note.next_attempt_at = clock.now(), None
    elif note.attempts <= len(schedule):
        note.next_attempt_at = clock.now() + timedelta(seconds=schedule[note.attempts - 1])
    else:
        note.next_attempt_at = None  # the channel gives up; the shop must reconcile by querying
    note.last_status = status[:255]
    note.save(update_fields=["delivered_at", "next_attempt_at", "last_status"])
    return ok


# --- server APIs: refunds -------------------------------------------------------------------------------------------


def refund(*, channel: str, out_trade_no: str, out_refund_no: str, amount_fen: int) -> SandboxRefund:
    """Pays money back once per refund number; never more than the trade's amount in total."""
    return refund_once(
        channel=channel, out_trade_no=out_trade_no, out_refund_no=out_refund_no, amount_fen=amount_fen
    )[0]


def refund_once(
    *, channel: str, out_trade_no: str, out_refund_no: str, amount_fen: int
) -> tuple[SandboxRefund, bool]:
    """`refund`, and whether this call moved the money (False: the same refund number asked again)."""
    with transaction.atomic():
        trade = locking.lock_one(SandboxTrade.objects.filter(channel=channel, out_trade_no=out_trade_no))
        if trade is None or trade.status != SandboxTrade.Status.PAID:
            raise DomainError(SandboxErrorCode.TRADE_NOT_EXIST)
        existing = trade.refunds.filter(out_refund_no=out_refund_no).first()
        if existing is not None:
            if existing.amount_fen != amount_fen:
                raise DomainError(SandboxErrorCode.REFUND_CONFLICT)
            return existing, False
        if sum(r.amount_fen for r in trade.refunds.all()) + amount_fen > trade.amount_fen or amount_fen <= 0:
            raise DomainError(SandboxErrorCode.REFUND_AMT_EXCEED)
        created = SandboxRefund.objects.create(
            trade=trade,
            out_refund_no=out_refund_no,
            refund_id=_trade_no(channel) + "R",
            amount_fen=amount_fen,
            created_at=clock.now(),
        )
        log_action(
            action="sandbox.refunded",
            obj=created,
            source=Source.SANDBOX,
            data={"out_trade_no": out_trade_no, "amount_fen": amount_fen},
        )
        return created, True


def wechat_h5_url(trade: SandboxTrade) -> str:
    return f"{settings.KAMENG_PUBLIC_URL.rstrip('/')}/sandbox/wechat/h5/{trade.trade_no}?prepay=1"
