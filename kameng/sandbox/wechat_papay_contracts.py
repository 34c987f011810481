"""The sandbox's WeChat Pay 委托代扣 API v2 contract calls: 查询签约关系 (papay/querycontract) and 申请解约
(papay/deletecontract), checked and answered as wechat_papay checks and answers every v2 call.

Pages (G = https://github.com/wechatpay-apiv3/wechatpay-skills/blob/main/wechatpay-deduction-service/references/
1-商户/): G + 示例代码/4-订单协议查询/查询签约关系.md, G + 示例代码/3-协议解约/申请解约.md.
"""

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from kameng.core import clock
from kameng.core.errors import DomainError
from kameng.sandbox import agreements, papay
from kameng.sandbox import wechat_papay_rules as rules
from kameng.sandbox.error_codes import SandboxErrorCode
from kameng.sandbox.faults import faulty
from kameng.sandbox.models import SandboxAgreement
from kameng.sandbox.wechat_papay import _ok, _v2_call

# 查询签约关系 contract_state: 0 已签约, 1 未签约 (terminated), 9 签约进行中.
CONTRACT_STATE = {"NORMAL": "0", "UNSIGN": "1", "TEMP": "9"}


def _stamp(moment) -> str | None:
    return clock.stamp(moment) if moment else None


def _contract_of(given: dict[str, str]) -> SandboxAgreement:
    if given.get("plan_id") and given.get("openid") and not given.get("contract_code"):
        found = SandboxAgreement.objects.filter(
            channel="wechat", plan_id=int(given["plan_id"]), openid=given["openid"], status="NORMAL"
        ).first()
        if found is None:
            raise DomainError(SandboxErrorCode.CONTRACT_NOT_EXIST)
        return found
    plan_id = int(given["plan_id"]) if given.get("plan_id") else None
    return papay.find_contract(
        contract_id=given.get("contract_id", ""),
        plan_id=plan_id,
        contract_code=given.get("contract_code", ""),
    )


@csrf_exempt  # a server API (v2 XML), signed by the merchant with the APIv2 key: no cookie involved
@require_POST
@faulty
@_v2_call(rules.CONTRACT_QUERY, rules.xml_body)
def query_contract(request, given: dict[str, str], sign_type: str) -> HttpResponse:
    """POST papay/querycontract."""
    contract = _contract_of(given)
    ended = contract.status == SandboxAgreement.Status.UNSIGN
    return _ok(
        sign_type,
        contract_id=contract.agreement_no,
        plan_id=contract.plan_id,
        contract_code=contract.external_no,
        request_serial=contract.request_serial,
        openid=contract.openid or None,
        contract_display_account=contract.account_label,
        contract_state=CONTRACT_STATE[contract.status],
        contract_signed_time=_stamp(contract.signed_at),
        contract_expired_time="2115-02-01 00:00:00" if contract.signed_at else None,
        contract_terminated_time=_stamp(contract.unsigned_at) if ended else None,
        contract_termination_mode={"user": "2", "merchant": "3"}.get(contract.unsigned_by) if ended else None,
    )


@csrf_exempt  # a server API (v2 XML), signed by the merchant with the APIv2 key: no cookie involved
@require_POST
@faulty
@_v2_call(rules.CONTRACT_DELETE, rules.xml_body)
def delete_contract(request, given: dict[str, str], sign_type: str) -> HttpResponse:
    """POST papay/deletecontract: the DELETE notification goes to the template's termination URL."""
    contract = _contract_of(given)
    if contract.status != SandboxAgreement.Status.NORMAL:
        raise DomainError(SandboxErrorCode.CONTRACT_NOT_EXIST)
    agreements.unsign_agreement(agreement_no=contract.agreement_no, by="merchant")
    return _ok(
        sign_type,
        contract_id=contract.agreement_no,
        plan_id=contract.plan_id,
        contract_code=contract.external_no,
    )
