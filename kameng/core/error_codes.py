"""The codes every endpoint can answer, whatever its app: the request's form, authentication, idempotency."""

from django.utils.translation import gettext_lazy as _

from kameng.core.errors import ErrorCode


class CoreErrorCode(ErrorCode):
    MALFORMED_JSON = "malformed_json", 400, _("请求体必须是 UTF-8 编码的 JSON 对象,且不含 NUL 字符")
    MALFORMED_BODY = "malformed_body", 400, _("请求体无法解析")
    NUL_CHARACTER = "nul_character", 400, _("请求中含有 NUL 字符")
    INVALID = "invalid", 422, _("字段缺失或无效:%(fields)s")
    UNAUTHORIZED = "unauthorized", 401, _("需要有效的 Bearer 令牌")
    TOKEN_EXPIRED = "token_expired", 401, _("令牌已过期(太久没有使用),请用 POST /api/v1/auth/token 重新获取")
    TOKEN_REVOKED = (
        "token_revoked",
        401,
        _("令牌已被撤销(退出登录、修改密码或在账户页撤销),请用 POST /api/v1/auth/token 重新获取"),
    )
    NOT_FOUND = "not_found", 404, _("未找到")
    METHOD_NOT_ALLOWED = "method_not_allowed", 405, _("此地址不接受 %(method)s 请求")
    BAD_IDEMPOTENCY_KEY = "bad_idempotency_key", 422, _("Idempotency-Key 最多 128 个可打印字符")
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused", 409, _("这个 Idempotency-Key 已用于另一个请求")
    # Not a refusal but an outage, answered before a view runs: listed so that clients know the one 5xx to retry.
    DATABASE_UNAVAILABLE = "database_unavailable", 503, _("数据库没有响应,未做任何更改,请重试")
    # The database answered, but the rows were held too long (lock timeout) or a deadlock survived its one retry.
    DATABASE_BUSY = "database_busy", 503, _("同一笔数据正在被处理,未做任何更改,请稍后重试")
