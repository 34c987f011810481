"""`log_action`: the one way to write an audit row. Call it inside the transaction that changes the state.

A row written while serving a request records where the request came from (`data["client_ip"]`, the address
`kameng.core.client` resolved for it); rows written by sweeps and commands have none.
"""

from typing import Any

from django.db import models

from kameng.core import clock
from kameng.core.client import current_client_ip
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
    data = dict(data or {})
    if (address := current_client_ip()) is not None:
        data.setdefault("client_ip", address)
    return AuditLog.objects.create(
        at=clock.now(),
        actor=actor,
        source=source,
        action=action,
        object_type=object_type,
        object_id=object_id,
        data=data,
    )
