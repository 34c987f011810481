import contextlib
import csv
import json
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from kameng.accounts.models import User
from kameng.catalog.models import Product
from kameng.console import charts, selectors
from kameng.console import filters as filters_module
from kameng.console.error_codes import ConsoleErrorCode
from kameng.console.filters import report_filters
from kameng.core.errors import DomainError
from kameng.core.roles import Role
from kameng.core.views import shows_refusals
from kameng.inventory.models import ImportBatch
from kameng.inventory.selectors import products_taking_card_keys
from kameng.inventory.services import import_card_keys
from kameng.membership import cancellation
from kameng.membership.models import Agreement, Cancellation, Plan
from kameng.membership.selectors import live_membership
from kameng.orders.models import Order
from kameng.payments.channels.base import AgreementState


def _staff_only(request) -> None:
    if not request.user.has_role(Role.OPERATOR, Role.FINANCE):
        raise Http404


def _operator_only(request) -> None:
    # Stock is the operator's: finance reads the numbers but does not add card keys.
    if not request.user.has_role(Role.OPERATOR):
        raise Http404


def _filters(request) -> selectors.Filters:
    """From the query string (`from`, `to`, `plan`); raises DomainError for a date that is malformed, out of
    range, or a range reversed or too wide."""
    return report_filters(
        start=request.GET.get("from", ""), end=request.GET.get("to", ""), plan=request.GET.get("plan", "")
    )


@login_required
@require_safe
def dashboard(request):
    """The charts and tables for the filters asked for; filters it cannot use are said so above the last 30 days'
    numbers (the page still renders: the operator corrects the dates in the form)."""
    _staff_only(request)
    problem = ""
    try:
        filters = _filters(request)
    except DomainError as exc:
        filters, problem = selectors.default_filters(), exc.message
    t = {name: build(filters) for name, build in selectors.TABLES.items()}
    panels = [
        ("active_members", _("在册会员(按套餐)"), charts.bar(t["active_members"], _("在册会员"))),
        ("new_vs_cancelled", _("每周新增与退订"), charts.lines(t["new_vs_cancelled"], _("新增 / 退订"))),
        ("cancellations", _("退订原因与方式"), charts.pie(t["cancellations"], _("退订"))),
        ("revenue", _("每日收入(分)"), charts.lines(t["revenue"], _("收入"))),
        ("reminders", _("扣款前提醒合规"), charts.gauge(t["reminders"].rows[0][-1], _("提醒合规"))),
        ("support_sla", _("客服时限达成"), charts.gauge(t["support_sla"].rows[0][-1], "SLA")),
    ]
    return render(
        request,
        "console/dashboard.html",
        {
            "filters": filters,
            "plans": Plan.objects.all(),
            "panels": [
                (name, title, charts.with_nonce(svg, request.csp_nonce)) for name, title, svg in panels
            ],
            "tables": t,
            "query": "" if problem else request.GET.urlencode(),
            "problem": problem,
            "earliest": filters_module.EARLIEST,
            "latest": filters_module.latest(),
        },
    )


@login_required
@require_safe
@shows_refusals(back="console:dashboard", back_label=gettext_lazy("返回运营后台"))
def export(request, table: str):
    _staff_only(request)
    build = selectors.TABLES.get(table)
    if build is None:
        raise Http404
    data = build(_filters(request))
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="kameng-{table}.csv"'
    response.write("\ufeff")  # so spreadsheet programs read the UTF-8 Chinese labels correctly
    writer = csv.writer(response)
    writer.writerow(data.header)
    writer.writerows(data.rows)
    return response


@login_required
@require_safe
def member(request, username: str):
    """A member's whole timeline, with the one action an operator takes here: cancel now with the policy refund."""
    _staff_only(request)
    found = selectors.member_timeline(username=username)
    if found is None:
        raise Http404
    user, events = found
    quote = None
    with contextlib.suppress(DomainError):
        quote, _quote_id = cancellation.refund_quote(user=user)
    return render(
        request,
        "console/member.html",
        {"member": user, "events": events, "membership": live_membership(user), "quote": quote},
    )


@login_required
@require_POST
@shows_refusals(back="console:dashboard", back_label=gettext_lazy("返回运营后台"))
def refund_within_policy(request, username: str):
    """Cancels the member's membership immediately with exactly the policy's refund (never more: that is a
    finance decision on a support ticket), recorded with the operator as actor."""
    _staff_only(request)
    user = User.objects.filter(username=username).first()
    if user is None:
        raise Http404
    made = cancellation.cancel_membership(
        user=user, mode=Cancellation.Mode.IMMEDIATE, source=Cancellation.Source.SUPPORT, actor=request.user
    )
    return redirect("membership:receipt", made.receipt_no)


@login_required
@require_safe
def find_member(request):
    _staff_only(request)
    name = request.GET.get("q", "").strip()[:150]
    if name and Order.objects.filter(order_no=name).exists():  # an order number finds the order's page
        return redirect("console:order", name)
    if name and selectors.member_timeline(username=name, limit=1) is not None:
        return redirect("console:member", name)
    return render(request, "console/find.html", {"q": name, "missing": bool(name)})


CHUNK_LINES = 500  # the page sends a long list in pieces, so its progress bar follows the real import


@login_required
@require_safe
def import_keys(request):
    _operator_only(request)
    products = products_taking_card_keys()
    return render(request, "console/import_keys.html", {"products": products, "chunk_lines": CHUNK_LINES})


def _chunk_refused(exc: DomainError) -> JsonResponse:
    return JsonResponse(exc.envelope(), status=exc.status)  # the page shows the message


@login_required
@require_POST
def import_keys_chunk(request):
    """One piece of a long import: {product, first_line, lines} → the piece's counts and rejected lines, numbered
    as in the whole file."""
    _operator_only(request)
    if request.content_type != "application/json":
        # A form post has had its body read by the CSRF check: request.body would raise (a 500) instead of this.
        return _chunk_refused(DomainError(ConsoleErrorCode.BAD_CHUNK))
    try:
        body = json.loads(request.body)
        product = Product.objects.get(pk=int(body["product"]))
        first_line = int(body.get("first_line", 1))
        lines = str(body["lines"])
    except (ValueError, KeyError, TypeError, Product.DoesNotExist):
        return _chunk_refused(DomainError(ConsoleErrorCode.BAD_CHUNK))
    if lines.count("\n") > CHUNK_LINES or first_line < 1:
        return _chunk_refused(DomainError(ConsoleErrorCode.CHUNK_TOO_LARGE, limit=CHUNK_LINES))
    try:
        batch = import_card_keys(
            product=product,
            text=lines,
            source=ImportBatch.Source.CONSOLE,
            actor=request.user,
            first_line=first_line,
        )
    except DomainError as exc:
        return _chunk_refused(exc)
    return JsonResponse(
        {
            "batch": batch.pk,
            "imported": batch.imported,
            "duplicates": batch.duplicates,
            "malformed": batch.malformed,
            "rejected": batch.rejected_lines(),
        }
    )


def _agreement_filters(params) -> selectors.AgreementFilters:
    return selectors.agreement_filters(status=params.get("status", ""), channel=params.get("channel", ""))


@login_required
@require_safe
def agreements(request):
    """代扣协议: every payment agreement with our status and when it was last checked with the channel."""
    _staff_only(request)
    filters = _agreement_filters(request.GET)
    return render(
        request,
        "console/agreements.html",
        {
            "filters": filters,
            "statuses": Agreement.Status.choices,
            "channels": selectors.AGREEMENT_CHANNELS,
            "page": selectors.agreements(filters=filters, page=request.GET.get("page", 1)),
            "query": urlencode({k: v for k, v in vars(filters).items() if v}),
        },
    )


@login_required
@require_POST
def query_agreement(request, agreement_id: int):
    """查询渠道状态: asks the channel for the agreement's real state, applies it, and says what it answered."""
    _staff_only(request)
    agreement = Agreement.objects.filter(pk=agreement_id).first()
    if agreement is None:
        raise Http404
    check = cancellation.reconcile_agreement(agreement=agreement, actor=request.user)
    number = check.agreement.channel_agreement_no or check.agreement.external_no
    status = check.agreement.get_status_display()
    if check.channel_state == AgreementState.UNKNOWN:
        messages.warning(request, _("协议 %(no)s:渠道暂时无法答复,未做任何更改。") % {"no": number})
    elif check.applied:
        messages.success(
            request,
            _("协议 %(no)s:渠道答复“已解约”。已照此处理:自动续费已关闭,本地状态改为“%(status)s”。")
            % {"no": number, "status": status},
        )
    elif check.channel_state == AgreementState.TERMINATED:
        messages.info(
            request,
            _("协议 %(no)s:渠道答复“已解约”,本地状态为“%(status)s”,无需更改。")
            % {"no": number, "status": status},
        )
    else:
        messages.info(
            request,
            _("协议 %(no)s:渠道答复“有效”,本地状态为“%(status)s”。") % {"no": number, "status": status},
        )
    back = urlencode({k: v for k, v in vars(_agreement_filters(request.POST)).items() if v})
    return redirect(f"{reverse('console:agreements')}?{back}#agreement-{agreement.pk}")
