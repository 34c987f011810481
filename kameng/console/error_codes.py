from django.utils.translation import gettext_lazy as _

from kameng.core.errors import ErrorCode


class ConsoleErrorCode(ErrorCode):
    BAD_CHUNK = "bad_chunk", 422, _("导入片段须含 product、first_line 和 lines")
    CHUNK_TOO_LARGE = "chunk_too_large", 422, _("每个片段最多 %(limit)s 行")
    BAD_DATE = "bad_date", 422, _("日期须写成 年-月-日(例如 2026-01-31):“%(value)s”不是这样的日期")
    DATE_OUT_OF_RANGE = (
        "date_out_of_range",
        422,
        _("日期须在 %(earliest)s 到 %(latest)s 之间:“%(value)s”超出了范围"),
    )
    DATES_REVERSED = "dates_reversed", 422, _("结束日期 %(end)s 早于开始日期 %(start)s")
    RANGE_TOO_WIDE = "range_too_wide", 422, _("报表一次最多看 %(days)s 天,请缩小日期范围")
