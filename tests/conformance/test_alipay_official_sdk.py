"""Alipay's official Python SDK (alipay-sdk-python 3.7.1411, module alipay.aop.api) drives the sandbox under
gunicorn, from its own virtualenv (.venv-alipay-official: `make test` builds it from
tests/conformance/alipay_official/requirements.txt), through tests/conformance/alipay_official/client.py run as a
subprocess. Its requests carry the common parameters and sign in the query string and biz_content in the body; its
page-pay is a POST form to gateway.do. The SDK verifies every answer's signature itself (execute raises otherwise),
and the notification is checked with its own get_sign_content and verify_with_rsa."""

import json
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from kameng.payments.channels.registry import get_channel
from kameng.sandbox import keys
from tests.conformance.alipay_support import NotifyListener, pay_and_sign_biz, pay_at_cashier, today_plus

pytestmark = [pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[2]
OFFICIAL_PYTHON = ROOT / ".venv-alipay-official" / "bin" / "python"
CLIENT = Path(__file__).with_name("alipay_official") / "client.py"


@pytest.fixture
def official(gunicorn_server):
    """Runs one step of the official SDK's client against the server; returns its JSON result."""
    if not OFFICIAL_PYTHON.exists():
        pytest.fail("the official SDK's virtualenv is missing: run `make .venv-alipay-official/.installed`")
    config = get_channel("alipay").config
    private_key = serialization.load_pem_private_key(config.app_private_key_pem.encode(), password=None)
    common = {
        "gateway": f"{gunicorn_server}/sandbox/alipay/gateway.do",
        "app_id": keys.ALIPAY_APP_ID,
        # The SDK reads the app key as PKCS#1 (rsa.PrivateKey.load_pkcs1), the Alipay key as an X.509 public key.
        "app_private_key": private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode(),
        "alipay_public_key": config.alipay_public_key_pem,
    }

    def run(step: str, **command) -> dict:
        done = subprocess.run(  # noqa: S603 (our own virtualenv and script, fixed arguments)
            [str(OFFICIAL_PYTHON), str(CLIENT)],
            input=json.dumps({**common, "step": step, **command}),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout)

    return run


@pytest.fixture
def listener():
    notify = NotifyListener()
    yield notify
    notify.close()


def test_its_page_pay_form_opens_the_cashier_and_its_precreate_is_verified(
    gunicorn_server, official, listener
):
    form = official(
        "page_pay",
        biz={
            "out_trade_no": "OFF1",
            "total_amount": "20.00",
            "subject": "点卡",
            "product_code": "QUICK_WAP_WAY",
        },
        notify_url=listener.url,
    )
    assert form["form_fields"] == ["biz_content"]  # everything else travels in the form's action URL
    assert form["status"] == 200 and "20.00" in form["page"]
    answer = official(
        "precreate",
        biz={"out_trade_no": "OFF2", "total_amount": "8.80", "subject": "点卡"},
        notify_url=listener.url,
    )
    assert (answer["code"], answer["out_trade_no"]) == ("10000", "OFF2") and answer["qr_code"]


def test_its_pay_and_sign_form_signs_and_its_verifier_accepts_the_notifications(
    gunicorn_server, official, listener
):
    form = official(
        "page_pay", biz=pay_and_sign_biz("OFF3", execute_time=today_plus(3)), notify_url=listener.url
    )
    assert form["status"] == 200
    pay_at_cashier(gunicorn_server, "OFF3")
    [paid] = listener.wait_for("trade_status_sync")
    [signed] = listener.wait_for("dut_user_sign")
    assert official("verify_notification", notification=paid) == {"verified": True}
    assert official("verify_notification", notification=signed) == {"verified": True}
    answer = official("agreement_query", biz={"agreement_no": signed["agreement_no"]})
    assert (answer["code"], answer["status"]) == ("10000", "NORMAL")


def test_its_refund_is_answered_and_its_refusal_is_a_signed_documented_code(
    gunicorn_server, official, listener
):
    official("precreate", biz={"out_trade_no": "OFF4", "total_amount": "5.00", "subject": "点卡"})
    pay_at_cashier(gunicorn_server, "OFF4")
    answer = official(
        "refund", biz={"out_trade_no": "OFF4", "refund_amount": "5.00", "out_request_no": "OFF4R"}
    )
    assert (answer["code"], answer["refund_fee"]) == ("10000", "5.00")
    refused = official("refund", biz={"out_trade_no": "OFF4", "refund_amount": "5.001"})
    assert (refused["code"], refused["sub_code"]) == ("40004", "ACQ.INVALID_PARAMETER")
