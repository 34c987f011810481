"""What WeChat Pay posts to the shop, verified and read in channel-neutral words.

Two endpoints, two protocols:
* `/payments/notify/wechat/`: APIv3 callbacks (JSON, signed by a platform key named in `Wechatpay-Serial`,
  resource AES-256-GCM under the APIv3 key): TRANSACTION.SUCCESS of H5 and Native payments.
* `/payments/notify/wechat/papay/`: 委托代扣 notifications (API v2 XML, not encrypted, signed with the APIv2 key;
  回调处理 s.一): the sign / terminate result (`change_type` ADD / DELETE; https://pay.weixin.qq.com/doc/v2/merchant/
  4011987586.md) and the charge result (…/4011987465.md). Sign notifications go to the `notify_url` of the signing
  call, terminations to the URL set on the 委托代扣模板 in the merchant platform, charge results to pappayapply's.
"""

import json
from collections.abc import Mapping

from kameng.payments.channels.base import ChannelEvent, EventKind, Reply
from kameng.payments.channels.config import WechatConfig
from kameng.payments.channels.errors import ChannelProtocolError
from kameng.protocols import wechat as protocol
from kameng.protocols import wechat_v2

# A charge that will never be paid under its number (查询订单 trade_state; PAY_FAIL is paporderquery's).
FAILED_TRADE_STATES = frozenset({"PAY_FAIL", "PAYERROR", "CLOSED", "REVOKED"})
WAITING_TRADE_STATES = frozenset({"NOTPAY", "USERPAYING", "ACCEPT"})


def parse_v3(config: WechatConfig, *, headers: Mapping[str, str], body: bytes, now_ts: int) -> ChannelEvent:
    protocol.verify_callback(
        headers=headers, body=body, platform_public_keys=config.platform_public_keys, now_ts=now_ts
    )
    try:
        envelope = json.loads(body)
        event_id, event_type, resource = envelope["id"], envelope["event_type"], envelope["resource"]
    except (ValueError, KeyError, TypeError):
        raise ChannelProtocolError("not a WeChat Pay event") from None
    if event_type != "TRANSACTION.SUCCESS":
        return ChannelEvent(kind=EventKind.IGNORED, dedupe_key=event_id)
    plain = protocol.decrypt_resource(resource, config.apiv3_key)
    if plain.get("mchid") != config.mchid or plain.get("appid") != config.appid:
        raise ChannelProtocolError("notification for another merchant")
    amount = plain.get("amount") or {}
    if plain.get("trade_state") != "SUCCESS" or amount.get("currency", "CNY") != "CNY":
        return ChannelEvent(kind=EventKind.IGNORED, dedupe_key=event_id)
    total = amount.get("total")
    if not isinstance(total, int) or isinstance(total, bool):
        raise ChannelProtocolError("bad amount")
    return ChannelEvent(
        kind=EventKind.PAYMENT,
        dedupe_key=event_id,
        out_trade_no=str(plain.get("out_trade_no", "")),
        channel_trade_no=str(plain.get("transaction_id", "")),
        amount_fen=total,
    )


def parse_papay(config: WechatConfig, *, body: bytes) -> ChannelEvent:
    """A v2 委托代扣 notification; ChannelProtocolError for anything forged, foreign or not understood."""
    if not config.apiv2_key:
        raise ChannelProtocolError("no APIv2 key configured")
    fields = wechat_v2.from_xml(body)
    if fields.get("return_code") != "SUCCESS":
        raise ChannelProtocolError("return_code is not SUCCESS")
    wechat_v2.verified(fields, config.apiv2_key)  # before any field counts (接入质量检查 #2)
    if fields.get("mch_id") != config.mchid:
        raise ChannelProtocolError("notification for another merchant")
    if fields.get("appid") and fields["appid"] != config.appid:
        raise ChannelProtocolError("notification for another app")
    # Routing by the fields present, as 回调处理 s.一 says (one URL may carry every kind).
    if "change_type" in fields:
        return _contract_event(config, fields)
    if fields.get("out_trade_no") and fields.get("contract_id"):
        return _charge_event(fields)
    raise ChannelProtocolError("not a 委托代扣 sign, terminate or charge notification")


def _contract_event(config: WechatConfig, fields: Mapping[str, str]) -> ChannelEvent:
    change = fields["change_type"]
    kinds = {"ADD": EventKind.AGREEMENT_SIGNED, "DELETE": EventKind.AGREEMENT_TERMINATED}
    if change not in kinds:
        raise ChannelProtocolError(f"unknown change_type {change!r}")
    if fields.get("result_code", "SUCCESS") != "SUCCESS":
        return ChannelEvent(
            kind=EventKind.IGNORED, dedupe_key=f"papay:{change}:{fields.get('contract_id', '')}"
        )
    if not fields.get("contract_id") or not fields.get("contract_code"):
        raise ChannelProtocolError("no contract_id / contract_code")
    plan = fields.get("plan_id", "")
    if not plan.isdigit() or int(plan) not in config.papay_plan_ids.values():
        raise ChannelProtocolError(f"contract under another template: plan_id {plan!r}")
    return ChannelEvent(
        kind=kinds[change],
        # 回调处理 s.九: a contract's notification is one by contract_code + change_type (contract_id names it).
        dedupe_key=f"papay:{change}:{fields['contract_code']}:{fields['contract_id']}",
        external_agreement_no=fields["contract_code"],
        channel_agreement_no=fields["contract_id"],
    )


def _charge_event(fields: Mapping[str, str]) -> ChannelEvent:
    out_trade_no, state = fields["out_trade_no"], fields.get("trade_state", "")
    err_code = fields.get("err_code", "")
    paid = (
        fields.get("result_code") == "SUCCESS" and state in ("", "SUCCESS") and fields.get("transaction_id")
    )
    if paid:
        total = fields.get("total_fee", "")
        if not total.isdigit() or fields.get("fee_type", "CNY") != "CNY":
            raise ChannelProtocolError("bad total_fee / fee_type")
        return ChannelEvent(
            kind=EventKind.PAYMENT,
            dedupe_key=f"papay:charge:{out_trade_no}:SUCCESS",  # 回调处理 s.九: one per out_trade_no
            out_trade_no=out_trade_no,
            channel_trade_no=fields["transaction_id"],
            amount_fen=int(total),
            channel_agreement_no=fields["contract_id"],
        )
    if err_code == "SYSTEMERROR" or state in WAITING_TRADE_STATES:
        # Not decided (回调处理 s.3.2: query the order first): the query sweep finds out.
        return ChannelEvent(
            kind=EventKind.IGNORED, dedupe_key=f"papay:charge:{out_trade_no}:{err_code or state}"
        )
    if (
        fields.get("result_code") == "FAIL"
        or state in FAILED_TRADE_STATES
        or not fields.get("transaction_id")
    ):
        return ChannelEvent(
            kind=EventKind.PAYMENT_FAILED,
            dedupe_key=f"papay:charge:{out_trade_no}:FAIL",
            out_trade_no=out_trade_no,
            channel_agreement_no=fields["contract_id"],
            message=(err_code or state or "FAIL")
            + (f": {fields['err_code_des']}" if "err_code_des" in fields else ""),
        )
    raise ChannelProtocolError(f"charge notification in state {state!r}")


def v3_ack() -> Reply:
    return Reply(204, "application/json", b"")


def v3_nack(reason: str) -> Reply:
    return Reply(400, "application/json", json.dumps({"code": "FAIL", "message": reason}).encode())


def papay_ack() -> Reply:
    # 回调处理 s.4.1: this exact XML, nothing around it, HTTP 200.
    return Reply(200, "text/xml", wechat_v2.to_xml({"return_code": "SUCCESS", "return_msg": "OK"}))


def papay_nack(reason: str) -> Reply:
    # s.八: a message we will not take is answered 200 with FAIL (a non-2xx would only make WeChat retry it).
    return Reply(200, "text/xml", wechat_v2.to_xml({"return_code": "FAIL", "return_msg": reason[:128]}))
