"""The sandbox's WeChat Pay 委托代扣 notifications, API v2: flat XML, not encrypted, signed with the APIv2 key the way
the signing (or the charge) request was signed, retried on WeChat's documented schedules until the merchant answers
`<return_code>SUCCESS</return_code>` in XML with a 2xx.

Pages (G = https://github.com/wechatpay-apiv3/wechatpay-skills/blob/main/wechatpay-deduction-service/references/
1-商户/): G + 接入指南/回调处理.md (the three kinds, their retry schedules, the merchant's answer),
G + 示例代码/7-异步结果回调/签约-解约结果通知.md, G + 示例代码/7-异步结果回调/扣款结果通知.md.
"""

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from kameng.core import clock
from kameng.core.http import HttpReply
from kameng.protocols import wechat_v2
from kameng.protocols.errors import ChannelProtocolError
from kameng.sandbox import keys, papay
from kameng.sandbox.models import SandboxNotification

# 签约-解约结果通知: "0/10/10/10/30/30/30/300/300/...（最多 30 次）"; seconds after the previous attempt.
CONTRACT_RETRIES = [10, 10, 10, 30, 30, 30] + [300] * 23
# 扣款结果通知: "0/15/15/30/180/1800/1800/1800/1800/3600".
CHARGE_RETRIES = [15, 15, 30, 180, 1800, 1800, 1800, 1800, 3600]
# 签约-解约结果通知 contract_termination_mode: 2 用户主动解约, 3 商户 API 解约.
TERMINATION_MODE = {"user": "2", "merchant": "3"}


@dataclass(frozen=True)
class Outgoing:
    url: str
    headers: dict[str, str]
    body: bytes
    retries: list[int]


def handles(note: SandboxNotification) -> bool:
    """The v2 notifications: every WeChat contract change, and the charges of 委托代扣 (trade_type PAP)."""
    if note.agreement_id is not None:
        return note.agreement.channel == "wechat"
    return note.trade.channel == "wechat" and note.trade.trade_type == "PAP"


def _signed_xml(fields: dict[str, object], sign_type: str) -> bytes:
    return wechat_v2.to_xml(
        wechat_v2.signed(fields, keys.sandbox_keys()["wechat_apiv2_key"], sign_type or "MD5")
    )


def _contract(note: SandboxNotification) -> Outgoing:
    contract = note.agreement
    added = note.event == SandboxNotification.Event.AGREEMENT_SIGNED
    moment = contract.signed_at if added else contract.unsigned_at
    # The fields of the guide's example, in its order; DELETE adds contract_termination_mode.
    fields: dict[str, object] = {
        "return_code": "SUCCESS",
        "result_code": "SUCCESS",
        "mch_id": keys.WECHAT_MCHID,
        "contract_code": contract.external_no,
        "openid": contract.openid,
        "plan_id": contract.plan_id,
        "change_type": "ADD" if added else "DELETE",
        "operate_time": clock.stamp(moment),
        "contract_id": contract.agreement_no,
    }
    if not added:
        fields["contract_termination_mode"] = TERMINATION_MODE.get(contract.unsigned_by, "2")
    # Signing: to the signing request's notify_url; termination: to the template's URL, not per request.
    url = contract.notify_url if added else papay.termination_notify_url()
    return Outgoing(url, _XML, _signed_xml(fields, contract.v2_sign_type), CONTRACT_RETRIES)


def _charge(note: SandboxNotification) -> Outgoing:
    trade = note.trade
    common = {
        "return_code": "SUCCESS",
        "appid": keys.WECHAT_APPID,
        "mch_id": keys.WECHAT_MCHID,
        "nonce_str": wechat_v2.nonce(),
        "out_trade_no": trade.out_trade_no,
        "contract_id": trade.agreement.agreement_no,
    }
    if note.event == SandboxNotification.Event.TRADE_PAID:
        fields = {
            **common,
            "result_code": "SUCCESS",
            "openid": trade.agreement.openid,
            "is_subscribe": "N",
            "trade_type": "PAP",
            "trade_state": "SUCCESS",
            "bank_type": "OTHERS",
            "total_fee": trade.amount_fen,
            "cash_fee": trade.amount_fen,
            "fee_type": "CNY",
            "transaction_id": trade.trade_no,
            "time_end": clock.local(trade.paid_at).strftime("%Y%m%d%H%M%S"),
        }
    else:  # 回调处理 section 3.2: a failure is result_code=FAIL with err_code / err_code_des
        fields = {**common, "result_code": "FAIL", "err_code": trade.err_code, "err_code_des": "余额不足"}
    return Outgoing(trade.notify_url, _XML, _signed_xml(fields, trade.v2_sign_type), CHARGE_RETRIES)


_XML = {"Content-Type": "text/xml; charset=utf-8"}


def outgoing(note: SandboxNotification) -> Outgoing:
    """The notification as it is sent now (signed afresh each attempt, as WeChat does)."""
    return _contract(note) if note.agreement_id is not None else _charge(note)


def accepted(reply: HttpReply) -> bool:
    """回调处理 section 四: HTTP 2xx and an XML answer with return_code SUCCESS; "success", JSON or HTML count as
    failures."""
    if not 200 <= reply.status < 300:
        return False
    try:
        return wechat_v2.from_xml(reply.body.strip()).get("return_code") == "SUCCESS"
    # An answer naming an encoding ElementTree does not know is a LookupError or ValueError, not a ParseError: a
    # failure to be retried like any other, not a crash of the sender.
    except (ChannelProtocolError, ET.ParseError, LookupError, ValueError):
        return False
