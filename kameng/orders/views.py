from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST, require_safe

from kameng.catalog import channels
from kameng.catalog import selectors as catalog
from kameng.core import ratelimit
from kameng.core.audit import Source
from kameng.core.client import client_ip
from kameng.core.errors import DomainError
from kameng.core.views import shows_refusals, with_retry_after
from kameng.orders import paying, qr, selectors, services
from kameng.orders.error_codes import OrderErrorCode
from kameng.orders.models import Order


def pay_link(order: Order) -> str:
    """The shop's own pay link; it signs the channel request when the buyer opens it."""
    return settings.KAMENG_PUBLIC_URL.rstrip("/") + reverse("orders:pay", args=[order.order_no])


@login_required
@require_POST
@shows_refusals(back="catalog:home", back_label=_("返回首页"))
def checkout(request):
    sku = request.POST.get("sku", "")
    try:
        quantity = int(request.POST.get("quantity", "1"))
    except ValueError:
        quantity = 0
    channel = request.POST.get("channel", "")
    try:
        order = services.create_order(
            user=request.user, sku=sku, quantity=quantity, channel=channel, source=Source.WEB
        )
    except ratelimit.TooMany as exc:
        # A member limit (unpaid orders, reserved keys, order rate): the member is mid-purchase, so the product
        # page comes back with the reason on the form, their choices kept, and the way to their unpaid orders.
        return _product_page_refused(request, exc, sku=sku, quantity=quantity, channel=channel)
    return redirect("orders:detail", order.order_no)


def _product_page_refused(request, exc: ratelimit.TooMany, *, sku: str, quantity: int, channel: str):
    context = {
        "row": catalog.get_product(sku=sku),
        "channels": sorted(channels.offered()),
        "refusal": exc.message,
        "quantity": quantity if quantity > 0 else 1,
        "channel": channel,
    }
    return with_retry_after(render(request, "catalog/product.html", context, status=exc.status), exc)


@login_required
@require_safe
@shows_refusals(back="catalog:home", back_label=_("返回首页"))
def detail(request, order_no: str):
    view = selectors.order_view(order_no=order_no, viewer=request.user, source=Source.WEB)
    qr_svg = None
    if view.order.status == Order.Status.PENDING_PAYMENT and qr.is_desktop(
        request.headers.get("User-Agent", "")
    ):
        text = paying.payments().qr_code(order=view.order, client_ip=client_ip(request) or "")
        qr_svg = qr.svg(text) if text else None
    return render(
        request,
        "orders/detail.html",
        {"order": view.order, "secrets": view.secrets, "pay_url": pay_link(view.order), "qr_svg": qr_svg},
    )


@login_required
@require_safe
def status(request, order_no: str):
    """The order's status for the desktop QR page's poller (static/orders-qr.js): the buyer's own orders only."""
    try:
        order = selectors.get_order_for_viewer(order_no=order_no, viewer=request.user)
    except DomainError as exc:
        return JsonResponse(exc.envelope(), status=exc.status)
    return JsonResponse({"order_no": order.order_no, "status": order.status})


@login_required
@require_safe
def my_orders(request):
    return render(request, "orders/list.html", {"orders": selectors.orders_of(request.user)[:100]})


@require_safe
@shows_refusals(back="catalog:home", back_label=_("返回首页"))
def pay(request, order_no: str):
    """Sends the buyer to the channel's cashier with a freshly signed request for this order."""
    order = Order.objects.select_related("product").filter(order_no=order_no).first()
    if order is None:
        raise DomainError(OrderErrorCode.UNKNOWN_ORDER)
    to_channel = redirect(paying.payments().pay_url(order=order, client_ip=client_ip(request) or ""))
    # WeChat's H5 signing page takes no return address: it sends the member back to the page they came from, its
    # Referer, and only if that has a path (docs/channels.md#wechat-pay). The shop's same-origin policy would send
    # none across origins, so this one hop to the channel sends the full address (never over plain http).
    to_channel["Referrer-Policy"] = "no-referrer-when-downgrade"
    return to_channel
