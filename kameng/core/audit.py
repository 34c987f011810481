"""`log_action`: the one way to write an audit row. Call it inside the transaction that changes the state."""

from typing import Any

from django.db import models

from kameng.core import clock
from kameng.core.models import AuditLog

Source = AuditLog.Source


def log_action(
    *,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    actor=None,
    source: str = Source.SYSTEM,
    data: dict[str, Any] | None = None,
) -> AuditLog:
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditLog.objects.create(
        at=clock.now(),
        actor=actor,
        source=source,
        action=action,
        object_type=object_type,
        object_id=object_id,
        data=data or {},
    )
