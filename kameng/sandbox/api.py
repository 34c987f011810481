from typing import Annotated

from django.conf import settings
from ninja import Field, Router, Schema
from pydantic import ConfigDict

from kameng.core import clock, sweeps
from kameng.core.api import WITH_BODY, answers
from kameng.core.errors import DomainError
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


def _require_sandbox() -> None:
    if not settings.KAMENG_SANDBOX:
        raise DomainError(SandboxErrorCode.SANDBOX_OFF)


@router.post("/clock", **answers({200: ClockOut}, *WITH_BODY, SandboxErrorCode.SANDBOX_OFF), auth=None)
def move_clock(request, payload: ClockIn):
    """Moves the test clock forward for every process (sandbox only)."""
    _require_sandbox()
    offset = clock.advance(seconds=payload.advance_seconds)
    return {"now": clock.now().isoformat(), "offset_seconds": offset}


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
    **answers(
        {200: Annotated[dict[str, int], Field(examples=[RUN_DUE_EXAMPLE])]}, SandboxErrorCode.SANDBOX_OFF
    ),
    auth=None,
)
def run_due(request):
    """Runs every due sweep now and says how many items each handled (sandbox only)."""
    _require_sandbox()
    return sweeps.run_due_sweeps()
