"""What every page does with a refusal, so views stay thin: they call services and let DomainError rise."""

import functools
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from kameng.core.errors import DomainError


def shows_refusals(*, back: str, back_label: str) -> Callable:
    """A DomainError raised in the view is answered with the site's one refusal page (templates/refusal.html):
    its message in the reader's language, the error's status, and a link back to the page named `back` (a URL
    name taking no arguments) labelled `back_label`."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            try:
                return view(request, *args, **kwargs)
            except DomainError as exc:
                context = {"message": exc.message, "back_url": reverse(back), "back_label": back_label}
                return with_retry_after(render(request, "refusal.html", context, status=exc.status), exc)

        return wrapped

    return decorate


def with_retry_after(response: HttpResponse, exc: DomainError) -> HttpResponse:
    """A refusal for a limit (ratelimit.TooMany) tells the browser, as the API does, when to try again."""
    if getattr(exc, "retry_after", None):
        response["Retry-After"] = str(exc.retry_after)
    return response
