from django.utils.translation import gettext_lazy as _

from kameng.core.errors import ErrorCode


class AccountErrorCode(ErrorCode):
    BAD_USERNAME = "bad_username", 422, _("用户名:1–150 个字母、数字或 @.+-_")
    BAD_EMAIL = "bad_email", 422, _("邮箱地址无效")
    WEAK_PASSWORD = "weak_password", 422, _("密码:%(problems)s")
    USERNAME_TAKEN = "username_taken", 409, _("用户名已被占用")
    USERNAME_CONFUSABLE = (
        "username_confusable",
        409,
        _(
            "这个用户名与一个已有的用户名看起来一样(例如混用了其他文字的字母、全角字符或 0/O、l/I),"
            "请换一个不会被认错的用户名"
        ),
    )
    UNKNOWN_TOKEN = "unknown_token", 404, _("你的账户里没有这个令牌")
    UNKNOWN_SESSION = "unknown_session", 404, _("你的账户里没有这个登录设备")
    BAD_CREDENTIALS = "bad_credentials", 401, _("用户名或密码错误")
    TOO_MANY_ATTEMPTS = "too_many_attempts", 429, _("登录失败次数过多,请 15 分钟后再试")
