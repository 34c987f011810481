"""Whatever path checked a password, a refusal by the login throttle is answered as one: 429, with Retry-After."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from kameng.accounts.error_codes import AccountErrorCode
from kameng.core.errors import DomainError


class LoginRefusal:
    """Our own login page and the API answer a refusal themselves (429 with their form or error envelope); a path
    that only sees authenticate()'s None, as Django's admin login does, would show 'wrong password'. This answers
    any of them with the refusal instead, so a login path added later says the right thing without knowing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        refusal = getattr(request, "login_refused", None)
        if refusal is None:
            return response
        if response.status_code != 429:
            response = _refusal(request)
        response["Retry-After"] = str(refusal.retry_after)
        return response


def _refusal(request: HttpRequest) -> HttpResponse:
    error = DomainError(AccountErrorCode.TOO_MANY_ATTEMPTS)
    if request.path.startswith("/api/"):
        return JsonResponse(error.envelope(), status=error.status)
    context = {"message": error.message, "back_url": reverse("catalog:home"), "back_label": _("返回首页")}
    return render(request, "refusal.html", context, status=error.status)
