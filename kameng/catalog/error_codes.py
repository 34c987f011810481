from django.utils.translation import gettext_lazy as _

from kameng.core.errors import ErrorCode


class CatalogErrorCode(ErrorCode):
    UNKNOWN_SKU = "unknown_sku", 404, _("没有编号为 %(sku)s 的商品")
