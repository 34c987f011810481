"""The API's shared parts: the error envelope and its schema, the declared refusals of each endpoint, strict JSON
parsing, idempotent writes (bearer-token auth: accounts.api)."""

import json
from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpRequest, JsonResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.responses import Status
from pydantic import ConfigDict

from kameng.core.error_codes import CoreErrorCode
from kameng.core.errors import DomainError, ErrorCode
from kameng.core.idempotency import Answer, run_idempotent
from kameng.core.ratelimit import TooMany


class FieldProblem(Schema):
    field: str
    problem: str


class ErrorBody(Schema):
    code: str
    message: str
    # Only for `invalid`: which field failed and how, as the schema validator says it.
    details: list[FieldProblem] | None = None


class ErrorOut(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "stale_quote",
                        "message": "退款报价已失效(已超过 30 分钟,或会员优惠、未付订单、周期、套餐价格已变化),"
                        "请查看新的报价",
                    }
                },
                {
                    "error": {
                        "code": "invalid",
                        "message": "字段缺失或无效:payload.quantity",
                        "details": [
                            {"field": "payload.quantity", "problem": "Input should be a valid integer"}
                        ],
                    }
                },
            ]
        }
    )

    error: ErrorBody


# The refusals shared by kinds of endpoint, spread into `answers(...)` so each endpoint lists all it can answer.
SIGNED_IN = (CoreErrorCode.UNAUTHORIZED, CoreErrorCode.TOKEN_EXPIRED, CoreErrorCode.TOKEN_REVOKED)
WITH_BODY = (CoreErrorCode.MALFORMED_JSON, CoreErrorCode.MALFORMED_BODY, CoreErrorCode.INVALID)
WITH_PARAMS = (CoreErrorCode.NUL_CHARACTER, CoreErrorCode.INVALID)
IDEMPOTENT = (CoreErrorCode.BAD_IDEMPOTENCY_KEY, CoreErrorCode.IDEMPOTENCY_KEY_REUSED)


def answers(ok: dict[int, Any], *refusals: ErrorCode) -> dict[str, Any]:
    """The `response` and OpenAPI notes of an endpoint: its success schema(s), and for every status a refusal
    can have, the error envelope with the codes it may carry (`x-error-codes`, listed in the description too)."""
    by_status: dict[int, list[ErrorCode]] = {}
    for code in refusals:
        if code not in by_status.setdefault(code.status, []):
            by_status[code.status].append(code)
    responses = {
        status: {
            "description": ", ".join(f"`{c.value}`" for c in codes),
            "x-error-codes": [c.value for c in codes],
        }
        for status, codes in sorted(by_status.items())
    }
    return {
        "response": {**ok, **dict.fromkeys(sorted(by_status), ErrorOut)},
        "openapi_extra": {"responses": responses},
    }


class StrictJsonParser(Parser):
    def parse_body(self, request: HttpRequest):
        try:
            body = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise DomainError(CoreErrorCode.MALFORMED_JSON) from None
        if not isinstance(body, dict) or _unstorable(body):
            raise DomainError(CoreErrorCode.MALFORMED_JSON)
        return body


def _unstorable(value) -> bool:
    """Text no database or hasher can take, refused at the door rather than failing inside a transaction: NUL
    (PostgreSQL text cannot hold it) and a lone surrogate, which JSON can spell (`"\\ud800"`) but UTF-8 cannot
    encode (the database driver and Argon2 would both raise)."""
    if isinstance(value, str):
        if "\x00" in value:
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_unstorable(k) or _unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_unstorable(v) for v in value)
    return False


def _refusal(exc: DomainError, **extra) -> JsonResponse:
    response = JsonResponse(exc.envelope(**extra), status=exc.status)
    if getattr(exc, "retry_after", None):  # ratelimit.TooMany: when the client may try again
        response["Retry-After"] = str(exc.retry_after)
    return response


def install_error_handlers(api: NinjaAPI) -> None:
    api.exception_handler(DomainError)(lambda request, exc: _refusal(exc))

    @api.exception_handler(ValidationError)
    def validation_error(request, exc: ValidationError):
        fields = [".".join(str(p) for p in e.get("loc", ())[1:]) or "body" for e in exc.errors]
        details = [{"field": f, "problem": e.get("msg", "")} for f, e in zip(fields, exc.errors, strict=True)]
        refused = DomainError(CoreErrorCode.INVALID, fields=", ".join(sorted(set(fields))))
        return _refusal(refused, details=details)

    @api.exception_handler(AuthenticationError)
    def unauthorized(request, exc):
        return _refusal(DomainError(CoreErrorCode.UNAUTHORIZED))

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return _refusal(DomainError(CoreErrorCode.NOT_FOUND))

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        # django-ninja's only HttpError here is its own 400 for a body it cannot parse, raised before our parser.
        return _refusal(DomainError(CoreErrorCode.MALFORMED_JSON))


def idempotent(request, action: Callable[[], Answer]) -> Status | JsonResponse:
    """Runs a write once per Idempotency-Key; `action` returns (status, body) and raises DomainError on refusal.

    A success goes back through the endpoint's response schema (so a replay is validated like a first answer); a
    refusal, first or replayed, is the stored error envelope; except a limit (TooMany, 429), which is not stored:
    the key is free again, so the same request retried after Retry-After is done then."""

    def answered() -> Answer:
        try:
            return action()
        except TooMany:
            raise  # a limit is not the request's answer: the same key, sent again later, may well succeed
        except DomainError as exc:
            return exc.status, exc.envelope()

    status, body = run_idempotent(
        user=request.user,
        key=request.headers.get("Idempotency-Key", ""),
        method=request.method,
        path=request.path,
        body=request.body,
        action=answered,
    )
    if status >= 400:
        return JsonResponse(body, status=status)
    return Status(status, body)
