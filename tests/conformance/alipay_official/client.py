"""Drives the sandbox's Alipay gateway with Alipay's official SDK (alipay-sdk-python, module alipay.aop.api).

Run by tests/conformance/test_alipay_official_sdk.py inside .venv-alipay-official (never imported by the suite: the
SDK's package is named `alipay`, as python-alipay-sdk's is). Reads one JSON command on stdin, prints one JSON result.

The SDK signs every request and verifies every answer itself (DefaultAlipayClient.execute raises on a bad
signature). One thing is patched, and only the transport: its WebUtils.get_http_connection connects to port 80 or
443 whatever the URL says, so the sandbox's loopback port is put back; nothing it signs or verifies is touched.
"""

import http.client
import json
import re
import sys
import urllib.parse
import urllib.request

from alipay.aop.api import DefaultAlipayClient as client_module
from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient
from alipay.aop.api.request.AlipayTradePrecreateRequest import AlipayTradePrecreateRequest
from alipay.aop.api.request.AlipayTradeRefundRequest import AlipayTradeRefundRequest
from alipay.aop.api.request.AlipayTradeWapPayRequest import AlipayTradeWapPayRequest
from alipay.aop.api.request.AlipayUserAgreementQueryRequest import AlipayUserAgreementQueryRequest
from alipay.aop.api.util import WebUtils
from alipay.aop.api.util.SignatureUtils import get_sign_content, verify_with_rsa


def _connection_keeping_the_port(url, query_string, timeout):
    parts = urllib.parse.urlparse(url)
    connection = http.client.HTTPConnection(host=parts.hostname, port=parts.port or 80, timeout=timeout)
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{query_string}", connection


WebUtils.get_http_connection = _connection_keeping_the_port
client_module.get_http_connection = _connection_keeping_the_port


def _client(command: dict) -> DefaultAlipayClient:
    config = AlipayClientConfig()
    config.server_url = command["gateway"]
    config.app_id = command["app_id"]
    config.app_private_key = command[
        "app_private_key"
    ]  # PKCS#1, as the SDK's rsa.PrivateKey.load_pkcs1 reads it
    config.alipay_public_key = command["alipay_public_key"]
    return DefaultAlipayClient(alipay_client_config=config)


def _with_biz(request, biz: dict):
    """biz_content as given, through the request's add_other_text_param: its biz_content setter would read a dict
    into the SDK's model, which has no agreement_sign_params for wap.pay and silently drops unknown fields."""
    request.add_other_text_param("biz_content", json.dumps(biz, ensure_ascii=False))
    return request


def _execute(command: dict, request) -> dict:
    """execute(): the SDK checks the answer's signature and returns the signed text of <method>_response."""
    _with_biz(request, command["biz"])
    if command.get("notify_url"):
        request.notify_url = command["notify_url"]
    return json.loads(_client(command).execute(request))


def _page_pay(command: dict) -> dict:
    """page_execute() in its default POST form: the common parameters and sign in the action's query string,
    biz_content in a hidden field. The form is submitted as a browser would."""
    request = _with_biz(AlipayTradeWapPayRequest(), command["biz"])
    request.notify_url = command["notify_url"]
    form = _client(command).page_execute(request, http_method="POST")
    action = re.search(r'action="([^"]+)"', form).group(1)
    fields = {
        name: value.replace("&quot;", '"')
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)
    }
    body = urllib.parse.urlencode(fields).encode()
    with urllib.request.urlopen(action, data=body, timeout=15) as reply:  # noqa: S310 (loopback)
        return {"status": reply.status, "page": reply.read().decode(), "form_fields": sorted(fields)}


def _verify_notification(command: dict) -> dict:
    """Alipay's rule for asynchronous notifications: every parameter but sign and sign_type, sorted, k=v joined by
    &, verified with Alipay's public key; the SDK's own get_sign_content and verify_with_rsa do it."""
    params = dict(command["notification"])
    signature = params.pop("sign")
    params.pop("sign_type", None)
    content = get_sign_content(params).encode("utf-8")
    return {"verified": verify_with_rsa(command["alipay_public_key"], content, signature)}


STEPS = {
    "page_pay": _page_pay,
    "precreate": lambda command: _execute(command, AlipayTradePrecreateRequest()),
    "refund": lambda command: _execute(command, AlipayTradeRefundRequest()),
    "agreement_query": lambda command: _execute(command, AlipayUserAgreementQueryRequest()),
    "verify_notification": _verify_notification,
}

if __name__ == "__main__":
    command = json.load(sys.stdin)
    print(json.dumps(STEPS[command["step"]](command), ensure_ascii=False))
