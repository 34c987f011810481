"""WeChat Pay 委托代扣 周期扣费 calls (API v2, XML signed with the APIv2 key), as WeChat's own guide documents them
for a direct merchant (wechatpay-apiv3/wechatpay-skills, wechatpay-deduction-service/references/1-商户/):

* sign: H5 纯签约 `GET /papay/h5entrustweb` (https://pay.weixin.qq.com/doc/v2/merchant/4011987295.md): the shop
  asks for a one-time `redirect_url` (10 minutes, one visit) and sends the member there;
* charge: `POST /pay/pappayapply` (…/4011987377.md), accepted, the result by notification or `pay/paporderquery`;
* `POST /papay/querycontract` (…/4011987640.md), `POST /papay/deletecontract` (…/4011987432.md),
  `POST /pay/closeorder` (…/4011987803.md).

An answer is read in WeChat's order (开发参数与业务规则 s.二): `return_code` (the call itself), then `result_code`
(the business), then the `sign` before a SUCCESS is believed (签名与验签规则 s.3.1). An unsigned FAIL may only make
a call fail; `err_code` SYSTEMERROR (and the other "not decided" codes below) means unknown: ask again later.
"""

import secrets
from collections.abc import Mapping

from kameng.core import clock, http
from kameng.core.http import TransportError
from kameng.payments.channels.config import WechatConfig
from kameng.payments.channels.errors import ChannelProtocolError, ChannelRefused
from kameng.protocols import wechat_papay, wechat_v2

# err_codes that decide nothing: the call may still take effect (SYSTEMERROR: 回调处理 s.3.2, ORDER_ACCEPTED:
# 排障手册 s.2.5.2 "受理中，请勿重复发起") or was not looked at (FREQUENCY_LIMITED). ORDERPAID is "already paid": only
# a query (signed) may tell us so.
UNDECIDED = frozenset({"SYSTEMERROR", "ORDER_ACCEPTED", "FREQUENCY_LIMITED", "ORDERPAID"})


class PapayRefused(ChannelRefused):
    """A definite refusal: `return_code` FAIL, or `result_code` FAIL with a deciding `err_code`."""

    def __init__(self, code: str, message: str = ""):
        super().__init__(f"{code}: {message}"[:200])
        self.code = code


class PapayUndecided(ChannelProtocolError):
    """WeChat did not decide (SYSTEMERROR …): the outcome is unknown until a query says."""


def request_serial() -> int:
    """An int64 that never starts with 0 (开发参数与业务规则 s.3.1): the signing moment in microseconds."""
    return int(clock.now().timestamp() * 1_000_000) + secrets.randbelow(1000)


class PapayClient:
    def __init__(self, config: WechatConfig):
        self.config = config

    @property
    def key(self) -> str:
        if not self.config.apiv2_key:
            raise ChannelProtocolError("no APIv2 key configured (KAMENG_WECHAT_APIV2_KEY)")
        return self.config.apiv2_key

    def plan_id(self, period_months: int) -> int:
        try:
            return self.config.papay_plan_ids[period_months]
        except KeyError:
            raise ChannelProtocolError(f"no 委托代扣 template for {period_months}-month plans") from None

    # --- signing entry -----------------------------------------------------------------------------------------

    def entry_url(self, fields: Mapping[str, object]) -> str:
        """The signed `papay/h5entrustweb` URL: HMAC-SHA256, H5 纯签约's default (签名与验签规则 s.一), computed over
        the raw values; the query encodes each value once (section 3.2)."""
        params = {"appid": self.config.appid, "mch_id": self.config.mchid, **fields}
        params = {k: str(v) for k, v in params.items() if v is not None}
        params["sign"] = wechat_v2.v2_sign(params, self.key, wechat_v2.HMAC_SHA256)
        return f"{self.config.api_base}/papay/h5entrustweb?{wechat_papay.entry_query(params)}"

    def open_entry(self, url: str) -> dict[str, str]:
        """GETs the entry URL; the answer names the one-time `redirect_url`."""
        reply = http.post(url, method="GET", body=b"", headers={"Accept": "application/xml"})
        # The page's answer carries no sign; believing it only sends the member to a page of WeChat's, where
        # nothing counts until the signed sign notification arrives. A sign that is there must verify.
        return self._read(reply.status, reply.body, require_sign=False)

    # --- XML calls ---------------------------------------------------------------------------------------------

    def call(self, path: str, fields: Mapping[str, object]) -> dict[str, str]:
        """POSTs a signed (MD5, the v2 default) XML request; the answer's fields once believed as SUCCESS."""
        params = wechat_v2.signed(
            {
                "appid": self.config.appid,
                "mch_id": self.config.mchid,
                "nonce_str": wechat_v2.nonce(),
                **fields,
            },
            self.key,
        )
        reply = http.post(
            f"{self.config.api_base}/{path}",
            body=wechat_v2.to_xml(params),
            headers={"Content-Type": "text/xml; charset=utf-8", "Accept": "application/xml"},
        )
        return self._read(reply.status, reply.body)

    def _read(self, status: int, body: bytes, *, require_sign: bool = True) -> dict[str, str]:
        if status >= 500:
            raise TransportError(f"wechat pay answered HTTP {status}")
        if status != 200:
            raise ChannelProtocolError(f"unexpected HTTP {status}")
        answer = wechat_v2.from_xml(body)
        if answer.get("return_code") != "SUCCESS":
            raise PapayRefused(
                "return_code " + answer.get("return_code", "missing"), answer.get("return_msg", "")
            )
        if answer.get("sign"):  # a FAIL may come unsigned; one that is signed must verify
            wechat_v2.verified(answer, self.key)
        if answer.get("result_code") != "SUCCESS":
            code = answer.get("err_code") or answer.get("result_code") or "FAIL"
            message = answer.get("err_code_des") or answer.get("result_msg") or answer.get("return_msg", "")
            if code in UNDECIDED:
                raise PapayUndecided(f"{code}: {message}"[:200])
            raise PapayRefused(code, message)
        if require_sign and not answer.get("sign"):
            raise ChannelProtocolError("a SUCCESS answer without a sign is not believed")
        for field, ours in (("mch_id", self.config.mchid), ("appid", self.config.appid)):
            if answer.get(field) and answer[field] != ours:
                raise ChannelProtocolError(f"answer for another {field}: {answer[field]!r}")
        return answer
