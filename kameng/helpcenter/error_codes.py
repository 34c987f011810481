from django.utils.translation import gettext_lazy as _

from kameng.core.errors import ErrorCode


class HelpErrorCode(ErrorCode):
    UNKNOWN_ARTICLE = "unknown_article", 404, _("没有这篇帮助文章")
