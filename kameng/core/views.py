"""What every page does with a refusal, so views stay thin: they call services and let DomainError rise."""

import functools
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from kameng.core.errors import DomainError


def shows_refusals(template: str) -> Callable:
    """A DomainError raised in the view is answered with `template` showing its message (in the reader's
    language) and the error's status, as the page's own error page. Anything else propagates."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            try:
                return view(request, *args, **kwargs)
            except DomainError as exc:
                return render(request, template, {"message": exc.message}, status=exc.status)

        return wrapped

    return decorate
