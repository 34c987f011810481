"""The sandbox gateway's pages for people (cashier, agreement signing and settings) and a pay hook for scripts; the
channels' signed server APIs are in alipay_views and wechat_views.

Every view answers 404 unless KAMENG_SANDBOX is on (see urls.py), so production never exposes a fake gateway.
"""

from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from kameng.core.errors import DomainError
from kameng.core.money import format_yuan
from kameng.orders import paying
from kameng.orders.models import Order
from kameng.sandbox import agreements, services
from kameng.sandbox.error_codes import SandboxErrorCode
from kameng.sandbox.models import SandboxAgreement, SandboxTrade


def cashier_page(request, trade: SandboxTrade, return_url: str):
    return render(
        request,
        "sandbox/cashier.html",
        {
            "trade": trade,
            "amount": format_yuan(trade.amount_fen),
            "return_url": return_url,
            "channel_name": "支付宝 Alipay" if trade.channel == "alipay" else "微信支付 WeChat Pay",
        },
    )


# --- agreements: the member's side -------------------------------------------------------------------------------


def sign_page(request, agreement: SandboxAgreement):
    return render(
        request,
        "sandbox/sign.html",
        {
            "agreement": agreement,
            "cap": format_yuan(agreement.single_amount_fen),
            "return_url": agreement.return_url or request.GET.get("redirect_url", ""),
            "channel_name": "支付宝 Alipay" if agreement.channel == "alipay" else "微信支付 WeChat Pay",
        },
    )


@csrf_exempt  # the channel's own page; the sandbox is never public
@require_http_methods(["GET", "POST"])
def agreement_sign(request, external_no: str):
    channel = request.GET.get("channel") or request.POST.get("channel", "")
    agreement = SandboxAgreement.objects.filter(channel=channel, external_no=external_no).first()
    if agreement is None:
        return render(request, "sandbox/error.html", {"message": "unknown sign request"}, status=404)
    if request.method == "GET":
        return sign_page(request, agreement)
    try:
        agreements.sign_agreement(agreement=agreement)
    except DomainError as exc:
        return render(request, "sandbox/error.html", {"message": exc.message}, status=exc.status)
    return_url = request.POST.get("return_url", "")
    if return_url.startswith(("http://", "https://")):
        return redirect(return_url)
    return redirect("sandbox:agreement-settings")


@require_safe
def agreement_settings(request):
    """The channel app's 自动续费 settings: every agreement, with a switch to turn it off."""
    listed = SandboxAgreement.objects.exclude(status=SandboxAgreement.Status.TEMP).order_by("-created_at")
    account = request.GET.get("account", "")
    if account:
        listed = listed.filter(account_label=account)
    return render(request, "sandbox/agreements.html", {"agreements": listed[:200], "account": account})


@csrf_exempt  # stands in for the member's thumb inside the channel's app
@require_POST
def agreement_unsign(request, agreement_no: str):
    try:
        agreement = agreements.unsign_agreement(agreement_no=agreement_no)
    except DomainError as exc:
        return JsonResponse(exc.envelope(), status=exc.status)
    if "text/html" in request.headers.get("Accept", ""):
        return redirect(reverse("sandbox:agreement-settings") + f"?account={agreement.account_label}")
    return JsonResponse({"agreement_no": agreement.agreement_no, "status": agreement.status})


# --- paying -------------------------------------------------------------------------------------------------------


@csrf_exempt  # a test hook standing in for the buyer's thumb in the channel's app; the sandbox is never public
@require_POST
def pay(request, order_no: str):
    """Pays an order as its buyer would in the channel's app; the signed notification follows asynchronously."""
    trade = SandboxTrade.objects.filter(out_trade_no=order_no).first()
    try:
        if trade is None:
            # The buyer never opened the cashier: open it as the shop would send them there (orders' hook).
            order = Order.objects.select_related("product").filter(order_no=order_no).first()
            if order is None:
                raise DomainError(SandboxErrorCode.UNKNOWN_ORDER)
            trade = services.trade_from_pay_url(paying.payments().pay_url(order=order, client_ip="127.0.0.1"))
        trade = services.pay(trade=trade)
    except DomainError as exc:
        return JsonResponse(exc.envelope(), status=exc.status)
    return_url = request.POST.get("return_url", "")
    if return_url.startswith(("http://", "https://")) and "text/html" in request.headers.get("Accept", ""):
        return redirect(return_url)
    return JsonResponse(
        {
            "order_no": order_no,
            "channel": trade.channel,
            "trade_no": trade.trade_no,
            "amount_fen": trade.amount_fen,
            "status": trade.status,
        }
    )
