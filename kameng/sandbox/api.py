from typing import Annotated

from django.conf import settings
from ninja import Field, Router, Schema
from pydantic import ConfigDict

from kameng.core.api import SIGNED_IN, WITH_BODY, answers
from kameng.core.errors import DomainError
from kameng.sandbox import services
from kameng.sandbox.error_codes import SandboxErrorCode

router = Router(tags=["sandbox"])


class ClockIn(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"advance_seconds": 86400}]})

    advance_seconds: int = Field(ge=0, le=10 * 366 * 86400, strict=True)


class ClockOut(Schema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"now": "2026-12-01T19:53:46+08:00", "offset_seconds": 518400}]}
    )

    now: str
    offset_seconds: int


# Both hooks act on the whole shop (the clock lifts login lockouts and ends periods; the sweeps charge and expire),
# so they take the API's Bearer token (401 without one) and a staff member's (403 for a member).
STAFF = (*SIGNED_IN, SandboxErrorCode.STAFF_ONLY, SandboxErrorCode.SANDBOX_OFF)


def _require_staff_in_sandbox(request) -> None:
    if not settings.KAMENG_SANDBOX:
        raise DomainError(SandboxErrorCode.SANDBOX_OFF)
    if not (request.user.is_active and request.user.is_staff):
        raise DomainError(SandboxErrorCode.STAFF_ONLY)


@router.post("/clock", **answers({200: ClockOut}, *WITH_BODY, *STAFF))
def move_clock(request, payload: ClockIn):
    """Moves the test clock forward for every process (sandbox only, staff only)."""
    _require_staff_in_sandbox(request)
    now, offset = services.move_clock(seconds=payload.advance_seconds, actor=request.user)
    return {"now": now.isoformat(), "offset_seconds": offset}


RUN_DUE_EXAMPLE = {
    "expire_orders": 2,
    "sandbox_notifications": 1,
    "membership_reminders": 3,
    "membership_renewals": 1,
    "membership_expiry": 0,
    "agreement_reconcile": 4,
    "support_sla": 0,
    "outbox": 5,
}


@router.post(
    "/run-due",
    **answers({200: Annotated[dict[str, int], Field(examples=[RUN_DUE_EXAMPLE])]}, *STAFF),
)
def run_due(request):
    """Runs every due sweep now and says how many items each handled (sandbox only, staff only)."""
    _require_staff_in_sandbox(request)
    return services.run_due_sweeps(actor=request.user)
