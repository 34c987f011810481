"""Request hygiene shared by pages and the API."""

import logging
from urllib.parse import unquote_to_bytes

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError

from kameng.core import locking
from kameng.core.error_codes import CoreErrorCode
from kameng.core.errors import DomainError

log = logging.getLogger(__name__)


class RejectNulCharacters:
    """A NUL character can never be stored (PostgreSQL text refuses it), so a request carrying one in its path,
    query string or form fields is answered 400 before any view sees it, instead of failing halfway as a 500.
    JSON bodies are checked by the API's parser (kameng.core.api.StrictJsonParser). A multipart body that cannot be
    parsed is a 400 of the same kind (Django's own answer to it would be an HTML page, even to an API client)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            refused = self._has_nul(request)
        except MultiPartParserError:
            return _refusal(request, DomainError(CoreErrorCode.MALFORMED_BODY))
        if refused:
            return _refusal(request, DomainError(CoreErrorCode.NUL_CHARACTER))
        return self.get_response(request)

    @staticmethod
    def _has_nul(request) -> bool:
        if "\x00" in request.path or b"\x00" in unquote_to_bytes(request.META.get("QUERY_STRING", "")):
            return True
        if request.method != "POST":
            return False
        if request.content_type == "application/x-www-form-urlencoded":
            return b"\x00" in unquote_to_bytes(request.body.replace(b"+", b" "))
        if request.content_type == "multipart/form-data":
            return any("\x00" in value for values in request.POST.lists() for value in values[1])
        return False


class ApiMethodNotAllowed:
    """django-ninja answers a method a path does not take with a plain-text 405; API clients are promised the error
    envelope on every refusal, so an API path's 405 is rewritten into it (the Allow header kept)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code != 405 or not request.path.startswith("/api/"):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        answer = _refusal(request, DomainError(CoreErrorCode.METHOD_NOT_ALLOWED, method=request.method))
        if response.has_header("Allow"):
            answer["Allow"] = response["Allow"]
        return answer


class DatabaseUnavailable:
    """A database that drops the connection or cannot be reached fails the request cleanly: 503 with Retry-After,
    never a 500. Every write runs in one transaction, so nothing half-done stays behind and the same request (with
    the same Idempotency-Key) can simply be sent again; Django opens a fresh connection for it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        busy = locking.contention(exception)
        if busy:
            log.warning("database busy (%s) for %s %s: %s", busy, request.method, request.path, exception)
            code = CoreErrorCode.DATABASE_BUSY
        else:
            log.warning("database unavailable for %s %s: %s", request.method, request.path, exception)
            code = CoreErrorCode.DATABASE_UNAVAILABLE
        response = _refusal(request, DomainError(code))
        response["Retry-After"] = "1"
        return response


def _refusal(request, exc: DomainError) -> HttpResponse:
    """The API's error envelope for API paths, the message as plain text for pages."""
    if request.path.startswith("/api/"):
        return JsonResponse(exc.envelope(), status=exc.status)
    return HttpResponse(exc.message, status=exc.status, content_type="text/plain; charset=utf-8")
