"""The one small interface every payment channel adapter implements. The rest of Kameng talks only to this."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


class EventKind:
    PAYMENT = "payment"  # money for one of our orders arrived
    IGNORED = "ignored"  # a genuine notification with nothing for us to do (e.g. WAIT_BUYER_PAY)


@dataclass(frozen=True)
class ChannelEvent:
    """A notification that passed signature verification, in channel-neutral words."""

    kind: str
    dedupe_key: str
    out_trade_no: str = ""
    channel_trade_no: str = ""
    amount_fen: int = 0


@dataclass(frozen=True)
class RefundResult:
    status: str  # "succeeded" | "pending" | "failed"
    channel_refund_no: str = ""
    message: str = ""


@dataclass(frozen=True)
class Reply:
    """What we answer the channel's notification with."""

    status: int
    content_type: str
    body: bytes


class PaymentChannel(Protocol):
    name: str

    def pay_redirect_url(
        self,
        *,
        order_no: str,
        amount_fen: int,
        subject: str,
        notify_url: str,
        return_url: str,
        client_ip: str,
    ) -> str:
        """Where to send the buyer to pay (may call the channel to create the trade)."""

    def parse_notification(self, *, headers: Mapping[str, str], body: bytes, now_ts: int) -> ChannelEvent:
        """Verifies and decodes a notification; raises ChannelProtocolError when it must not count."""

    def ack(self) -> Reply: ...

    def nack(self, reason: str) -> Reply: ...

    def refund(
        self, *, out_trade_no: str, out_refund_no: str, refund_fen: int, total_fen: int, reason: str
    ) -> RefundResult:
        """Asks the channel to pay money back; idempotent by out_refund_no at the channel."""
