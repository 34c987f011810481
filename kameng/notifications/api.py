from typing import Annotated

from ninja import Field, Router, Schema
from pydantic import ConfigDict

from kameng.core.api import SIGNED_IN, WITH_PARAMS, answers
from kameng.core.clock import iso
from kameng.notifications import selectors, services
from kameng.notifications.error_codes import NotificationErrorCode

router = Router(tags=["notifications"])


NOTIFICATION_EXAMPLE = {
    "id": 1,
    "kind": "membership.subscribed",
    "subject": "你已开通 VIP 月卡",
    "body": "你已开通 月卡(1 个月),已付 ¥15.00。本期:2026-11-25 19:53 至 2026-12-25 19:53。\n"
    "已开通自动续费:下次将于 2026-12-25 通过支付宝扣款 ¥15.00,每次扣款前会提前提醒你。\n"
    "随时可以关闭自动续费或退订:https://shop.example.com/member/cancel/\n"
    "会员中心:https://shop.example.com/member/",
    "link": "/member/",
    "created_at": "2026-11-25T19:53:45+08:00",
    "read": False,
}
REMINDER_EXAMPLE = {
    "id": 2,
    "kind": "membership.reminder",
    "subject": "续费提醒:2026-12-25 将扣款 ¥15.00",
    "body": "你的 月卡 将于 2026-12-25 19:53 自动续费,通过支付宝扣款 ¥15.00。\n"
    "不想续费?一键关闭自动续费或退订:https://shop.example.com/member/cancel/\n"
    "会员中心:https://shop.example.com/member/",
    "link": "/member/",
    "created_at": "2026-12-18T19:53:45+08:00",
    "read": True,
}


class NotificationOut(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [NOTIFICATION_EXAMPLE]})

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


@router.get(
    "/notifications",
    **answers(
        {200: Annotated[list[NotificationOut], Field(examples=[[REMINDER_EXAMPLE, NOTIFICATION_EXAMPLE]])]},
        *SIGNED_IN,
    ),
)
def list_notifications(request):
    """The member's inbox (站内信), newest first (at most 100)."""
    return [_out(n) for n in selectors.inbox(user=request.user)[:100]]


@router.post(
    "/notifications/{notification_id}/read",
    **answers({200: NotificationOut}, *SIGNED_IN, *WITH_PARAMS, NotificationErrorCode.UNKNOWN_NOTIFICATION),
)
def read_notification(request, notification_id: int):
    """Marks one of the member's messages read; another member's is 404."""
    return _out(services.mark_read(user=request.user, notification_id=notification_id))
