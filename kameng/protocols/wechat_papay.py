"""WeChat Pay 委托代扣 (papay, API v2) details beyond the flat XML codec (`wechat_v2`, which also verifies every v2
signature): how a signing entry URL is encoded.

WeChat's guide: 签名与验签规则 s.二 (sign over the raw values, ASCII order, empty values left out) and
开发参数与业务规则 s.3.2 (the signing entry's `notify_url` is URL-encoded once, with upper-case escapes, and signed
before encoding): https://github.com/wechatpay-apiv3/wechatpay-skills, wechatpay-deduction-service/references/1-商户/.
"""

from collections.abc import Mapping
from urllib.parse import quote


def entry_query(params: Mapping[str, object]) -> str:
    """The query string of a signing entry (papay/h5entrustweb, entrustweb): every value encoded exactly once,
    escapes in upper case (`%3A%2F%2F`), in the order given."""
    return "&".join(
        f"{key}={quote(str(value), safe='')}" for key, value in params.items() if value is not None
    )
