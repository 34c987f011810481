from ninja import Router, Schema

from kameng.core.clock import iso
from kameng.notifications import selectors, services

router = Router(tags=["notifications"])


class NotificationOut(Schema):
    id: int
    kind: str
    subject: str
    body: str
    link: str
    created_at: str
    read: bool


def _out(note) -> dict:
    return {
        "id": note.pk,
        "kind": note.kind,
        "subject": note.subject,
        "body": note.body,
        "link": note.link,
        "created_at": iso(note.created_at),
        "read": note.read_at is not None,
    }


@router.get("/notifications", response=list[NotificationOut])
def list_notifications(request):
    """The member's inbox (站内信), newest first (at most 100)."""
    return [_out(n) for n in selectors.inbox(user=request.user)[:100]]


@router.post("/notifications/{notification_id}/read", response=NotificationOut)
def read_notification(request, notification_id: int):
    """Marks one of the member's messages read; another member's is 404."""
    return _out(services.mark_read(user=request.user, notification_id=notification_id))
