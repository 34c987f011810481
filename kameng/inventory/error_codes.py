from django.utils.translation import gettext_lazy as _

from kameng.core.errors import ErrorCode


class InventoryErrorCode(ErrorCode):
    OUT_OF_STOCK = "out_of_stock", 409, _("库存不足")
    FILE_TOO_LARGE = "file_too_large", 422, _("文件太大:%(size)s 字节,最多 %(limit)s")
    NOT_UTF8 = "not_utf8", 422, _("文件不是 UTF-8 文本(第 %(byte)s 字节)")
    TOO_MANY_LINES = "too_many_lines", 422, _("每次导入最多 %(limit)s 行")
    MANUAL_PRODUCT = "manual_product", 422, _("人工发货的商品没有卡密")
