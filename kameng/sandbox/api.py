from django.conf import settings
from ninja import Field, Router, Schema

from kameng.core import clock, sweeps
from kameng.core.errors import NotFound

router = Router(tags=["sandbox"])


class ClockIn(Schema):
    advance_seconds: int = Field(ge=0, le=10 * 366 * 86400, strict=True)


class ClockOut(Schema):
    now: str
    offset_seconds: int


def _require_sandbox() -> None:
    if not settings.KAMENG_SANDBOX:
        raise NotFound("the sandbox is off")


@router.post("/clock", response=ClockOut, auth=None)
def move_clock(request, payload: ClockIn):
    """Moves the test clock forward for every process (sandbox only)."""
    _require_sandbox()
    offset = clock.advance(seconds=payload.advance_seconds)
    return {"now": clock.now().isoformat(), "offset_seconds": offset}


@router.post("/run-due", response=dict[str, int], auth=None)
def run_due(request):
    """Runs every due sweep now and says how many items each handled (sandbox only)."""
    _require_sandbox()
    return sweeps.run_due_sweeps()
