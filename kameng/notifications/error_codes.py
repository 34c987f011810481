from django.utils.translation import gettext_lazy as _

from kameng.core.errors import ErrorCode


class NotificationErrorCode(ErrorCode):
    UNKNOWN_NOTIFICATION = "unknown_notification", 404, _("没有这条消息")
