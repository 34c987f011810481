import contextlib
import csv
import json
from datetime import date, timedelta

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from kameng.accounts.models import Role
from kameng.catalog.models import Delivery, Product
from kameng.console import charts, selectors
from kameng.core.errors import DomainError
from kameng.inventory.models import ImportBatch
from kameng.inventory.services import import_card_keys
from kameng.membership.models import Plan

MAX_RANGE = timedelta(days=366)


def _staff_only(request) -> None:
    if not request.user.has_role(Role.OPERATOR, Role.FINANCE):
        raise Http404


def _operator_only(request) -> None:
    # Stock is the operator's: finance reads the numbers but does not add card keys.
    if not request.user.has_role(Role.OPERATOR):
        raise Http404


def _filters(request) -> selectors.Filters:
    """From the query string; anything malformed or too wide falls back to the last 30 days."""
    default = selectors.default_filters()
    try:
        start = date.fromisoformat(request.GET.get("from", "")) if request.GET.get("from") else default.start
        end = date.fromisoformat(request.GET.get("to", "")) if request.GET.get("to") else default.end
    except ValueError:
        start, end = default.start, default.end
    if end < start or end - start > MAX_RANGE:
        start, end = default.start, default.end
    plan = request.GET.get("plan", "")
    if plan and not Plan.objects.filter(code=plan).exists():
        plan = ""
    return selectors.Filters(start=start, end=end, plan=plan)


@login_required
@require_GET
def dashboard(request):
    _staff_only(request)
    filters = _filters(request)
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
            "query": request.GET.urlencode(),
        },
    )


@login_required
@require_GET
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
@require_GET
def member(request, username: str):
    """A member's whole timeline, with the one action an operator takes here: cancel now with the policy refund."""
    _staff_only(request)
    found = selectors.member_timeline(username=username)
    if found is None:
        raise Http404
    user, events = found
    from kameng.membership import cancellation
    from kameng.membership.selectors import live_membership

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
def refund_within_policy(request, username: str):
    """Cancels the member's membership immediately with exactly the policy's refund (never more: that is a
    finance decision on a support ticket), recorded with the operator as actor."""
    _staff_only(request)
    from kameng.accounts.models import User
    from kameng.membership import cancellation
    from kameng.membership.models import Cancellation

    user = User.objects.filter(username=username).first()
    if user is None:
        raise Http404
    try:
        made = cancellation.cancel_membership(
            user=user, mode="immediate", source=Cancellation.Source.SUPPORT, actor=request.user
        )
    except DomainError as exc:
        return render(request, "membership/error.html", {"message": exc.message}, status=exc.status)
    return redirect("membership:receipt", made.receipt_no)


@login_required
@require_GET
def find_member(request):
    _staff_only(request)
    name = request.GET.get("q", "").strip()[:150]
    if name and selectors.member_timeline(username=name, limit=1) is not None:
        return redirect("console:member", name)
    return render(request, "console/find.html", {"q": name, "missing": bool(name)})


CHUNK_LINES = 500  # the page sends a long list in pieces, so its progress bar follows the real import


@login_required
@require_GET
def import_keys(request):
    _operator_only(request)
    products = Product.objects.filter(delivery=Delivery.AUTO, is_active=True)
    return render(request, "console/import_keys.html", {"products": products, "chunk_lines": CHUNK_LINES})


@login_required
@require_POST
def import_keys_chunk(request):
    """One piece of a long import: {product, first_line, lines} → the piece's counts and rejected lines, numbered
    as in the whole file."""
    _operator_only(request)
    try:
        body = json.loads(request.body)
        product = Product.objects.get(pk=int(body["product"]))
        first_line = int(body.get("first_line", 1))
        lines = str(body["lines"])
    except (ValueError, KeyError, TypeError, Product.DoesNotExist):
        return JsonResponse(
            {"error": {"code": "invalid", "message": "product, first_line and lines"}}, status=400
        )
    if lines.count("\n") > CHUNK_LINES or first_line < 1:
        return JsonResponse(
            {"error": {"code": "chunk_too_large", "message": f"at most {CHUNK_LINES} lines"}}, status=400
        )
    try:
        batch = import_card_keys(
            product=product, text=lines, source=ImportBatch.Source.CONSOLE, actor=request.user
        )
    except DomainError as exc:
        return JsonResponse({"error": {"code": exc.code, "message": exc.message}}, status=exc.status)
    offset = first_line - 1
    return JsonResponse(
        {
            "batch": batch.pk,
            "imported": batch.imported,
            "duplicates": batch.duplicates,
            "malformed": batch.malformed,
            "rejected": [{**row, "line": row["line"] + offset} for row in batch.rejected_lines()],
        }
    )
