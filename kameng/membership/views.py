import contextlib

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from kameng.core.audit import Source
from kameng.core.client import client_ip
from kameng.core.errors import DomainError
from kameng.core.views import shows_refusals
from kameng.membership import cancellation, quotes, selectors, services
from kameng.membership.models import Cancellation
from kameng.orders.selectors import orders_of
from kameng.payments.selectors import channel_names, payments_of


@require_safe
def plans(request):
    """The plans, each with its full disclosure for both choices (auto-renew on / off) per channel."""
    channels = sorted(channel_names())
    rows = [
        {
            "plan": plan,
            "once": selectors.disclosure(plan=plan, channel=channels[0], auto_renew=False),
            "renewing": {c: selectors.disclosure(plan=plan, channel=c, auto_renew=True) for c in channels}
            if plan.renews
            else {},
        }
        for plan in selectors.list_plans()
    ]
    return render(
        request,
        "membership/plans.html",
        {"rows": rows, "channels": channels, "current": selectors.live_membership(request.user)},
    )


@login_required
@require_POST
@shows_refusals(back="membership:plans", back_label=_("返回会员套餐"))
def subscribe(request):
    auto_renew = request.POST.get("auto_renew") == "on"
    made = services.subscribe(
        user=request.user,
        plan_code=request.POST.get("plan_code", ""),
        channel=request.POST.get("channel", ""),
        auto_renew=auto_renew,
        # On the page, ticking the box (unticked by default, terms printed beside it) is the consent.
        consent=services.ConsentContext(
            given=auto_renew,
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
        ),
        source=Source.WEB,
    )
    return redirect("orders:pay", made.order.order_no)


@login_required
@require_safe
def centre(request):
    return render(
        request,
        "membership/centre.html",
        {
            "centre": selectors.member_centre(user=request.user),
            "orders": orders_of(request.user)[:20],
            "payments": payments_of(request.user)[:20],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
@shows_refusals(back="membership:centre", back_label=_("返回会员中心"))
def cancel(request):
    """退订会员: one page with both modes side by side, the refund quote in full, an optional reason, and the
    confirm buttons. Click 1 was the 退订会员 button that led here; click 2 is a confirm button."""
    if request.method == "POST":
        try:
            made = cancellation.cancel_membership(
                user=request.user,
                mode=request.POST.get("mode", ""),
                reason=request.POST.get("reason", ""),
                comment=request.POST.get("comment", ""),
                quote_id=request.POST.get("quote_id", ""),
                source=Cancellation.Source.SELF_SERVICE,
            )
        except quotes.StaleQuote as stale:
            # The quote on the page no longer binds: the same page again, with the new quote, asking again.
            return _cancel_page(request, stale.quote, stale.quote_id, stale=stale, status=409)
        return redirect("membership:receipt", made.receipt_no)
    quote = quote_id = None
    with contextlib.suppress(DomainError):  # nothing to cancel: the page says so
        quote, quote_id = cancellation.refund_quote(user=request.user)
    return _cancel_page(request, quote, quote_id)


def _cancel_page(request, quote, quote_id, *, stale: quotes.StaleQuote | None = None, status: int = 200):
    return render(
        request,
        "membership/cancel.html",
        {
            "centre": selectors.member_centre(user=request.user),
            "quote": quote,
            "quote_id": quote_id,
            "stale": stale,
            "chosen_reason": request.POST.get("reason", ""),
            "comment": request.POST.get("comment", ""),
            "reasons": Cancellation.Reason.choices,
            "receipts": selectors.receipts_of(request.user),
        },
        status=status,
    )


@login_required
@require_safe
def receipt(request, receipt_no: str):
    found = selectors.receipt_for(user=request.user, receipt_no=receipt_no)
    if found is None:
        raise Http404
    return render(request, "membership/receipt.html", {"receipt": found})
