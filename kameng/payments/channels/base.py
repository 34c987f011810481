"""The one small interface every payment channel adapter implements. The rest of Kameng talks only to this."""

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol


class EventKind:
    PAYMENT = "payment"  # money for one of our orders arrived
    PAYMENT_FAILED = (
        "payment_failed"  # a charge of an agreement was refused for good (WeChat papay trade_state)
    )
    IGNORED = "ignored"  # a genuine notification with nothing for us to do (e.g. WAIT_BUYER_PAY)
    AGREEMENT_SIGNED = "agreement_signed"  # dut_user_sign NORMAL / ENTRUST.SIGN
    AGREEMENT_TERMINATED = "agreement_terminated"  # dut_user_unsign UNSIGN / ENTRUST.TERMINATE


@dataclass(frozen=True)
class ChannelEvent:
    """A notification that passed signature verification, in channel-neutral words."""

    kind: str
    dedupe_key: str
    out_trade_no: str = ""
    channel_trade_no: str = ""
    amount_fen: int = 0
    external_agreement_no: str = ""  # ours: external_agreement_no / out_contract_code
    channel_agreement_no: str = ""  # theirs: agreement_no / contract_id
    message: str = ""  # why a charge failed (PAYMENT_FAILED: WeChat's err_code / trade_state)


@dataclass(frozen=True)
class AgreementTerms:
    """What the member agrees to let us charge: shown by the channel on its signing page."""

    external_no: str
    plan_name: str
    period_months: int
    single_amount_fen: int  # the cap per charge
    first_charge_date: date  # the next charge after the one being paid now
    account_label: str  # how the member is shown on the channel's page (contract_display_account)
    user_ref: str  # our stable id of the member (out_user_code)
    client_ip: str = (
        ""  # the member's address when they chose auto-renew (WeChat H5 纯签约 requires clientip)
    )
    # The first period's order, for channels that take its payment in the signing step (Alipay 支付并签约,
    # `pays_first_period_at_signing`); the others charge it through the agreement once signed.
    first_order_no: str = ""
    first_amount_fen: int = 0
    first_subject: str = ""
    # When the first order expires: the channel must not take its payment after that (Alipay time_expire).
    first_expires_at: datetime | None = None


class Outcome(enum.StrEnum):
    """What the channel answered a charge or a refund with."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PENDING = "pending"  # accepted; the result comes later (a notification, or asking again)


class AgreementState(enum.StrEnum):
    """An agreement's state at the channel, as its query answers."""

    ACTIVE = "active"
    TERMINATED = "terminated"
    UNKNOWN = "unknown"  # the channel could not or would not say


class TradeState(enum.StrEnum):
    """A trade's state at the channel, as its query answers (alipay.trade.query / WeChat order query)."""

    PAID = (
        "paid"  # the money arrived: TRADE_SUCCESS / TRADE_FINISHED, SUCCESS (and REFUND: paid, then refunded)
    )
    WAITING = (
        "waiting"  # created, not (yet) paid: WAIT_BUYER_PAY, NOTPAY, USERPAYING, ACCEPT (papay accepted)
    )
    CLOSED = (
        "closed"  # will never be paid under this number: TRADE_CLOSED, CLOSED, REVOKED, PAYERROR, PAY_FAIL
    )
    NOT_FOUND = "not_found"  # the channel has no such trade (the buyer never reached the cashier)
    UNKNOWN = "unknown"  # the channel could not or would not say: ask again later


@dataclass(frozen=True)
class TradeStatus:
    state: TradeState
    channel_trade_no: str = ""
    amount_fen: int = 0  # what was paid (PAID only)
    message: str = ""


@dataclass(frozen=True)
class ChargeResult:
    status: Outcome
    channel_trade_no: str = ""
    message: str = ""


@dataclass(frozen=True)
class RefundResult:
    status: Outcome
    channel_refund_no: str = ""
    message: str = ""
    # What the channel says this refund pays back (None: it did not say); a refund is confirmed only for its own
    # amount (payments.services.refund_amount_matches).
    amount_fen: int | None = None


@dataclass(frozen=True)
class Reply:
    """What we answer the channel's notification with."""

    status: int
    content_type: str
    body: bytes


class PaymentChannel(Protocol):
    name: str
    # True: the signing link is also the first period's payment (Alipay 支付并签约): the order's payment arrives as
    # an ordinary payment notification and the agreement is never charged for it. False: the agreement is signed
    # alone and the first period is then charged through it (WeChat 纯签约, then pappayapply).
    pays_first_period_at_signing: bool

    def pay_redirect_url(
        self,
        *,
        order_no: str,
        amount_fen: int,
        subject: str,
        notify_url: str,
        return_url: str,
        client_ip: str,
        expires_at: datetime | None = None,
    ) -> str:
        """Where to send the buyer to pay (may call the channel to create the trade). `expires_at`, the order's
        expiry, is sent as the trade's own (time_expire): the channel refuses to take the payment after it."""

    def parse_notification(self, *, headers: Mapping[str, str], body: bytes, now_ts: int) -> ChannelEvent:
        """Verifies and decodes a notification; raises ChannelProtocolError when it must not count."""

    def ack(self) -> Reply: ...

    def nack(self, reason: str) -> Reply: ...

    def refund(
        self,
        *,
        out_trade_no: str,
        out_refund_no: str,
        refund_fen: int,
        total_fen: int,
        reason: str,
        channel_trade_no: str = "",
    ) -> RefundResult:
        """Asks the channel to pay money back; idempotent by out_refund_no at the channel. An answer about another
        trade or refund than these (the channel's trade number too, when known) raises ChannelProtocolError."""

    def agreement_sign_url(self, *, terms: AgreementTerms, notify_url: str, return_url: str) -> str:
        """Where the member goes to sign the auto-renew agreement (Alipay page.sign / WeChat pre-entrust-sign)."""

    def charge_agreement(
        self, *, channel_agreement_no: str, out_trade_no: str, amount_fen: int, subject: str, notify_url: str
    ) -> ChargeResult:
        """Charges a signed agreement; idempotent at the channel by out_trade_no."""

    def unsign_agreement(self, *, channel_agreement_no: str, external_no: str, period_months: int) -> bool:
        """Ends the agreement at the channel (merchant-side unsign); True once the channel confirms."""

    def query_agreement(
        self, *, channel_agreement_no: str, external_no: str, period_months: int
    ) -> AgreementState:
        """The agreement's state at the channel."""

    # --- issue 14: active queries, pre-deduction notices, desktop QR codes -------------------------------------

    def query_trade(self, *, out_trade_no: str, agreement_charge: bool = False) -> TradeStatus:
        """The trade's state at the channel (alipay.trade.query; WeChat: v3 query by out_trade_no, or v2
        pay/paporderquery when `agreement_charge`). An answer about another trade raises ChannelProtocolError."""

    def close_trade(self, *, out_trade_no: str, agreement_charge: bool = False) -> bool:
        """Closes an unpaid trade so that it can never be paid; True once closed (or never created)."""

    def query_refund(self, *, out_trade_no: str, out_refund_no: str) -> RefundResult:
        """The refund's state at the channel (alipay.trade.fastpay.refund.query / WeChat refund query)."""

    def announce_charge(self, *, channel_agreement_no: str, amount_fen: int) -> bool:
        """Tells the channel, before a renewal charge, that it is coming and for how much (WeChat's 预扣费通知,
        POST /v3/papay/contracts/{contract_id}/notify). True when the notice is in place (also when it already
        was); channels without such a notice (Alipay) answer True at once."""

    def qr_code(
        self,
        *,
        order_no: str,
        amount_fen: int,
        subject: str,
        notify_url: str,
        client_ip: str,
        expires_at: datetime | None = None,
    ) -> str:
        """The text of a QR code a desktop buyer scans to pay (WeChat Native `code_url`, Alipay 当面付
        alipay.trade.precreate `qr_code`); raises LookupError when the merchant's account has no such product."""
