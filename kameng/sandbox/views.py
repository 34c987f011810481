"""The sandbox gateway's pages for people (cashier, agreement signing and settings) and a pay hook for scripts; the
channels' signed server APIs are in alipay_views and wechat_views.

Every view answers 404 unless KAMENG_SANDBOX is on (see urls.py), so production never exposes a fake gateway.
Who may do what, as with a real channel: the cashier and the signing page serve whoever holds the link (the buyer
may pay on another device, logged in nowhere); the 自动续费管理 page and its switch act for the member logged in to
the shop, on that member's own agreements only; every way back to the merchant leads to the shop's own pages.
"""

from urllib.parse import parse_qsl, urlencode, urlsplit

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from kameng.core.errors import DomainError
from kameng.core.money import format_yuan
from kameng.orders import paying
from kameng.orders.models import Order
from kameng.sandbox import agreements, services, wechat_papay
from kameng.sandbox.error_codes import SandboxErrorCode
from kameng.sandbox.models import SandboxAgreement, SandboxTrade

# Where a way back to the merchant leads when the one given is not the shop's own: the shop's home page.
SHOP_HOME = "/"


def back_to_shop(request: HttpRequest, url: str) -> str:
    """`url` when it leads back to the shop (a path, or the shop's own host: this request's or KAMENG_PUBLIC_URL's,
    over HTTPS when this request came over HTTPS); the shop's home page for anything else (another site,
    `//host`, `javascript:`); "" when none was given. A return URL can arrive unsigned (WeChat's redirect_url, the
    pages' hidden field), so the sandbox must not become an open redirect, as the real cashiers are not."""
    if not url:
        return ""
    shop_hosts = {request.get_host(), urlsplit(settings.KAMENG_PUBLIC_URL).netloc}
    if url_has_allowed_host_and_scheme(url, allowed_hosts=shop_hosts, require_https=request.is_secure()):
        return url
    return SHOP_HOME


def _wants_html(request: HttpRequest) -> bool:
    return "text/html" in request.headers.get("Accept", "")


def cashier_page(request, trade: SandboxTrade, return_url: str):
    return render(
        request,
        "sandbox/cashier.html",
        {
            "trade": trade,
            "amount": format_yuan(trade.amount_fen),
            "return_url": back_to_shop(request, return_url),
            "channel_name": "支付宝 Alipay" if trade.channel == "alipay" else "微信支付 WeChat Pay",
        },
    )


# --- agreements: the member's side -------------------------------------------------------------------------------


def _came_from(request: HttpRequest) -> str:
    """Where WeChat's H5 signing page sends the member back: the page they came from, its Referer (WeChat takes no
    return URL: "redirect_url 的页面会在 3 秒后自动回到 referer 页面"; a Referer of a domain alone, no path, brings them
    back nowhere: https://pay.weixin.qq.com/doc/v2/merchant/4011987295.md). The sandbox's own pages (the signing
    page after its form was posted) are not a page the member came from."""
    referer = request.headers.get("Referer", "")
    path = urlsplit(referer).path
    return "" if path in ("", "/") or path.startswith("/sandbox/") else referer


def sign_page(request, agreement: SandboxAgreement):
    # Alipay's page.sign names its return_url in the signed request; WeChat's is the Referer.
    way_back = agreement.return_url if agreement.channel == "alipay" else _came_from(request)
    return render(
        request,
        "sandbox/sign.html",
        {
            "agreement": agreement,
            "cap": format_yuan(agreement.single_amount_fen),
            "return_url": back_to_shop(request, way_back),
            "channel_name": "支付宝 Alipay" if agreement.channel == "alipay" else "微信支付 WeChat Pay",
        },
    )


@csrf_exempt  # the channel's own page, for whoever holds the link; it acts for no shop session
@require_http_methods(["GET", "POST"])
def agreement_sign(request, external_no: str):
    channel = request.GET.get("channel") or request.POST.get("channel", "")
    agreement = SandboxAgreement.objects.filter(channel=channel, external_no=external_no).first()
    if agreement is None:
        return render(request, "sandbox/error.html", {"message": "unknown sign request"}, status=404)
    if request.method == "GET":
        return sign_page(request, agreement)
    try:
        # Whoever is logged in to the channel signs: in the sandbox, the shop member of this browser, if any.
        signer = str(request.user.pk) if request.user.is_authenticated else ""
        agreements.sign_agreement(agreement=agreement, member_ref=signer)
    except DomainError as exc:
        return render(request, "sandbox/error.html", {"message": exc.message}, status=exc.status)
    # Back to the merchant, or to the signing page, which now says 已签约 (it serves a guest too).
    signed_page = (
        reverse("sandbox:agreement-sign", args=[external_no]) + "?" + urlencode({"channel": channel})
    )
    return redirect(back_to_shop(request, request.POST.get("return_url", "")) or signed_page)


@login_required
@require_safe
def agreement_settings(request):
    """The channel app's 自动续费 settings for the member logged in to the shop: their own agreements, each with
    a switch to turn it off."""
    listed = agreements.of_member(request.user).exclude(status=SandboxAgreement.Status.TEMP)
    return render(request, "sandbox/agreements.html", {"agreements": listed.order_by("-created_at")[:200]})


@require_POST  # with the CSRF check: it acts for the session's member, so no other site may post it for them
def agreement_unsign(request, agreement_no: str):
    """The member's thumb on the switch inside the channel's app: only the logged-in member's own agreement."""
    if not request.user.is_authenticated:
        if _wants_html(request):
            return redirect_to_login(reverse("sandbox:agreement-settings"))
        return JsonResponse(DomainError(SandboxErrorCode.LOGIN_REQUIRED).envelope(), status=401)
    try:
        agreement = agreements.unsign_agreement(agreement_no=agreement_no, member=request.user)
    except DomainError as exc:
        if _wants_html(request):
            return render(request, "sandbox/error.html", {"message": exc.message}, status=exc.status)
        return JsonResponse(exc.envelope(), status=exc.status)
    if _wants_html(request):
        return redirect("sandbox:agreement-settings")
    return JsonResponse({"agreement_no": agreement.agreement_no, "status": agreement.status})


# --- paying -------------------------------------------------------------------------------------------------------


def _open_at_channel(url: str) -> SandboxTrade | SandboxAgreement:
    """What the buyer's browser finds at the link the shop sends them to: a cashier (a trade to pay, which may sign
    as it pays: Alipay's 支付并签约) or a signing page (an agreement to sign: WeChat's 纯签约, Alipay's page.sign)."""
    parts = urlsplit(url)
    if parts.path.endswith(("/papay/h5entrustweb", "/papay/entrustweb")):
        return wechat_papay.contract_from_entrust_url(url)
    if parts.path.startswith("/sandbox/agreements/") and parts.path.endswith("/sign"):
        return agreements.agreement_from_sign_url(url)
    if parts.path.endswith("/alipay/gateway.do"):
        method = dict(parse_qsl(parts.query)).get("method", "")
        if method == "alipay.user.agreement.page.sign":
            return agreements.agreement_from_sign_url(url)
    return services.trade_from_pay_url(url)


@csrf_exempt  # the buyer's thumb in the channel's app: whoever holds the link pays; it acts for no session
@require_POST
def pay(request, order_no: str):
    """Pays an order as its buyer would in the channel's app; the signed notification follows asynchronously.

    The first order of an auto-renew subscription that signs before it pays (WeChat's 纯签约) is signed as its
    member would sign it; the shop then charges the first period through the agreement."""
    trade = SandboxTrade.objects.filter(out_trade_no=order_no).first()
    try:
        if trade is None:
            # The buyer never opened the cashier: open it as the shop would send them there (orders' hook).
            order = Order.objects.select_related("product").filter(order_no=order_no).first()
            if order is None:
                raise DomainError(SandboxErrorCode.UNKNOWN_ORDER)
            opened = _open_at_channel(paying.payments().pay_url(order=order, client_ip="127.0.0.1"))
            if isinstance(opened, SandboxAgreement):
                signed = agreements.sign_agreement(agreement=opened, member_ref=str(order.user_id))
                return JsonResponse(
                    {
                        "order_no": order_no,
                        "channel": signed.channel,
                        "agreement_no": signed.agreement_no,
                        "status": "signed",
                    }
                )
            trade = opened
        trade = services.pay(trade=trade)
    except DomainError as exc:
        return JsonResponse(exc.envelope(), status=exc.status)
    return_url = back_to_shop(request, request.POST.get("return_url", ""))
    if return_url and _wants_html(request):
        return redirect(return_url)
    if _wants_html(
        request
    ):  # a phone that scanned a QR code: the cashier says 已支付, as the channel's app does
        return cashier_page(request, trade, "")
    return JsonResponse(
        {
            "order_no": order_no,
            "channel": trade.channel,
            "trade_no": trade.trade_no,
            "amount_fen": trade.amount_fen,
            "status": trade.status,
        }
    )
