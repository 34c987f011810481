"""The API's shared parts: the error envelope, strict JSON parsing, bearer-token auth, idempotent writes."""

import json
import logging

from django.http import Http404, HttpRequest, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer

from kameng.accounts.selectors import user_for_token
from kameng.core.errors import DomainError
from kameng.core.idempotency import Answer, run_idempotent

log = logging.getLogger(__name__)


class MalformedJson(DomainError):
    status = 400
    code = "malformed_json"


class StrictJsonParser(Parser):
    def parse_body(self, request: HttpRequest):
        try:
            body = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise MalformedJson("the request body is not valid UTF-8 JSON") from None
        if not isinstance(body, dict):
            raise MalformedJson("the request body must be a JSON object")
        if _contains_nul(body):
            raise MalformedJson("the request body contains a NUL character")
        return body


def _contains_nul(value) -> bool:
    """NUL cannot be stored in PostgreSQL text: refused at the door rather than failing inside a transaction."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_contains_nul(v) for v in value)
    return False


class BearerToken(HttpBearer):
    def authenticate(self, request, token: str):
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


def error_body(code: str, message: str, **extra) -> dict:
    return {"error": {"code": code, "message": message, **extra}}


def install_error_handlers(api: NinjaAPI) -> None:
    @api.exception_handler(DomainError)
    def domain_error(request, exc: DomainError):
        return JsonResponse(error_body(exc.code, exc.message), status=exc.status)

    @api.exception_handler(ValidationError)
    def validation_error(request, exc: ValidationError):
        fields = [".".join(str(p) for p in e.get("loc", ())[1:]) or "body" for e in exc.errors]
        message = "invalid or missing field(s): " + ", ".join(sorted(set(fields)))
        details = [{"field": f, "problem": e.get("msg", "")} for f, e in zip(fields, exc.errors, strict=True)]
        return JsonResponse(error_body("invalid", message, details=details), status=422)

    @api.exception_handler(AuthenticationError)
    def unauthorized(request, exc):
        return JsonResponse(error_body("unauthorized", "a valid Bearer token is required"), status=401)

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return JsonResponse(error_body("not_found", "not found"), status=404)

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        # django-ninja reports an unparseable body as a 400 HttpError before our parser's message can surface.
        code = "malformed_json" if exc.status_code == 400 else "http_error"
        return JsonResponse(error_body(code, str(exc)), status=exc.status_code)


def idempotent(request, action) -> Answer:
    """Runs a write once per Idempotency-Key; `action` returns (status, body) and raises DomainError on refusal."""

    def answered() -> Answer:
        try:
            return action()
        except DomainError as exc:
            return exc.status, error_body(exc.code, exc.message)

    return run_idempotent(
        user=request.user,
        key=request.headers.get("Idempotency-Key", ""),
        method=request.method,
        path=request.path,
        body=request.body,
        action=answered,
    )
