import json

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from kameng.core import clock
from kameng.core.errors import DomainError
from kameng.core.roles import Role
from kameng.core.views import shows_refusals, with_retry_after
from kameng.membership import quotes
from kameng.support import evidence, selectors, services
from kameng.support.error_codes import SupportErrorCode
from kameng.support.models import Complaint, Ticket
from kameng.support.workdays import unknown_years


@login_required
@require_safe
def my_tickets(request):
    return render(
        request,
        "support/tickets.html",
        {
            "tickets": selectors.tickets_of(request.user)[:50],
            "complaints": selectors.complaints_of(request.user)[:50],
        },
    )


def _form_again(request, template: str, context: dict, exc: DomainError) -> HttpResponse:
    """A refused form comes back with the message above it and what the member wrote still in it (a file input
    cannot be refilled: the page asks for the screenshot again); the refusal's status, and Retry-After for a limit."""
    context = {**context, "problem": exc.message, "posted": request.POST, "had_file": bool(request.FILES)}
    return with_retry_after(render(request, template, context, status=exc.status), exc)


@login_required
@require_http_methods(["GET", "POST"])
def new_ticket(request):
    context = {
        "categories": Ticket.Category.choices,
        "category": request.GET.get("category", "cancel_membership"),
    }
    if request.method == "POST":
        try:
            ticket = services.file_ticket(
                user=request.user,
                category=request.POST.get("category", ""),
                order_no=request.POST.get("order_no", ""),
                reason=request.POST.get("reason", ""),
                screenshot=request.FILES.get("screenshot"),
            )
        except DomainError as exc:
            context["category"] = request.POST.get("category", "")
            return _form_again(request, "support/new_ticket.html", context, exc)
        return redirect("support:ticket", ticket.ticket_no)
    return render(request, "support/new_ticket.html", context)


@login_required
@require_http_methods(["GET", "POST"])
@shows_refusals(back="support:tickets", back_label=_("返回客服工单"))
def ticket(request, ticket_no: str):
    found = selectors.ticket_for(viewer=request.user, ticket_no=ticket_no)
    if found is None:
        raise Http404
    if request.method == "POST":
        try:
            services.reply(
                user=request.user,
                ticket_no=ticket_no,
                body=request.POST.get("body", ""),
                attachment=request.FILES.get("attachment"),
            )
        except DomainError as exc:
            return _form_again(request, "support/ticket.html", _ticket_context(request, found), exc)
        return redirect("support:ticket", ticket_no)
    return render(request, "support/ticket.html", _ticket_context(request, found))


def _ticket_context(request, found: Ticket, *, stale: quotes.StaleQuote | None = None) -> dict:
    """The ticket page; for an agent deciding a 退订会员 / 退款 ticket, the member's refund quote as of now (or the
    new one a stale approval brought back), whose id the approval form carries."""
    agent = services.is_agent(request.user)
    quote, quote_id = (stale.quote, stale.quote_id) if stale else (None, "")
    if agent and stale is None:
        quote, quote_id = selectors.cancel_quote(found)
    return {
        "ticket": found,
        "messages_": found.messages.select_related("author"),
        "agent": agent,
        "finance": agent and request.user.has_role(Role.FINANCE),
        "quote": quote,
        "quote_id": quote_id,
        "stale": stale,
    }


@login_required
@require_safe
def attachment(request, message_id: int):
    message = selectors.attachment_for(viewer=request.user, message_id=message_id)
    if message is None:
        raise Http404
    response = FileResponse(message.attachment.open("rb"), content_type=message.attachment_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def new_complaint(request):
    context = {
        "abouts": Complaint.About.choices,
        "about": request.GET.get("about", "ticket"),
        "about_ref": request.GET.get("ref", "")[:32],
    }
    if request.method == "POST":
        try:
            services.file_complaint(
                user=request.user,
                about=request.POST.get("about", ""),
                about_ref=request.POST.get("about_ref", ""),
                text=request.POST.get("text", ""),
            )
        except DomainError as exc:
            context.update(
                about=request.POST.get("about", ""), about_ref=request.POST.get("about_ref", "")[:32]
            )
            return _form_again(request, "support/new_complaint.html", context, exc)
        return redirect("support:tickets")
    return render(request, "support/new_complaint.html", context)


# --- the agents' console ----------------------------------------------------------------------------------------


def _agent_only(request) -> None:
    if not services.is_agent(request.user):
        raise Http404  # the queue's existence is not advertised to members


@login_required
@require_safe
def queue(request):
    _agent_only(request)
    filters = {
        "status": request.GET.get("status", ""),
        "category": request.GET.get("category", ""),
        "overdue": request.GET.get("overdue") == "1",
        "vip": request.GET.get("vip") == "1",
    }
    today = clock.now().date()
    return render(
        request,
        "support/queue.html",
        {
            "tickets": selectors.queue(**filters)[:200],
            "filters": filters,
            "statuses": Ticket.Status.choices,
            "categories": Ticket.Category.choices,
            "now": clock.now(),
            "calendar_gaps": unknown_years(today, today.replace(year=today.year + 1)),
        },
    )


def _fen(raw: str) -> int | None:
    """The approval form's amount in fen: empty is none; anything but a whole number is refused."""
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise DomainError(SupportErrorCode.BAD_REFUND_AMOUNT)
    return int(raw)


@login_required
@require_POST
@shows_refusals(back="support:queue", back_label=_("返回客服队列"))
def decide(request, ticket_no: str):
    """Approve or reject. A refusal comes back on the ticket page with what the agent wrote; a stale quote comes
    back with the new quote (409), to be confirmed again, as on the member's own cancel page."""
    _agent_only(request)
    found = selectors.ticket_for(viewer=request.user, ticket_no=ticket_no)
    if found is None:
        raise Http404
    try:
        if request.POST.get("decision") == "approve":
            services.approve(
                agent=request.user,
                ticket_no=ticket_no,
                mode=request.POST.get("mode", ""),
                quote_id=request.POST.get("quote_id", ""),
                above_policy=request.POST.get("above_policy") == "on",
                refund_fen=_fen(request.POST.get("refund_fen", "")),
                above_policy_reason=request.POST.get("above_policy_reason", ""),
                note=request.POST.get("note", ""),
            )
        else:
            services.reject(agent=request.user, ticket_no=ticket_no, reason=request.POST.get("reason", ""))
    except quotes.StaleQuote as stale:
        context = {**_ticket_context(request, found, stale=stale), "posted": request.POST}
        return render(request, "support/ticket.html", context, status=stale.status)
    except DomainError as exc:
        return _form_again(request, "support/ticket.html", _ticket_context(request, found), exc)
    return redirect("support:ticket", ticket_no)


# --- evidence -----------------------------------------------------------------------------------------------------


@login_required
@require_safe
def evidence_json(request):
    document = evidence.build_bundle(user=request.user)
    response = HttpResponse(
        json.dumps(document, ensure_ascii=False, sort_keys=True, indent=1), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="kameng-evidence-{request.user.pk}.json"'
    return response


@login_required
@require_safe
def evidence_pdf(request):
    document = evidence.build_bundle(user=request.user)
    response = HttpResponse(evidence.render_pdf(document), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="kameng-evidence-{request.user.pk}.pdf"'
    return response
