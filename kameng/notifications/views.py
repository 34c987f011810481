from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from kameng.core.errors import DomainError
from kameng.notifications import selectors, services


@login_required
@require_safe
def inbox(request):
    return render(
        request, "notifications/inbox.html", {"messages_": selectors.inbox(user=request.user)[:100]}
    )


@login_required
@require_POST
def read(request, notification_id: int):
    try:
        note = services.mark_read(user=request.user, notification_id=notification_id)
    except DomainError:  # another member's message, or none: not advertised
        raise Http404 from None
    if note.link and url_has_allowed_host_and_scheme(note.link, allowed_hosts=None):
        return redirect(note.link)
    return redirect("notifications:inbox")


@login_required
@require_POST
def read_all(request):
    services.mark_all_read(user=request.user)
    return redirect("notifications:inbox")
