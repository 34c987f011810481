from django.utils.translation import gettext_lazy as _

from kameng.core.errors import ErrorCode


class ConsoleErrorCode(ErrorCode):
    BAD_CHUNK = "bad_chunk", 422, _("导入片段须含 product、first_line 和 lines")
    CHUNK_TOO_LARGE = "chunk_too_large", 422, _("每个片段最多 %(limit)s 行")
