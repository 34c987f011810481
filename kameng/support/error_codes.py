from django.utils.translation import gettext_lazy as _

from kameng.core.errors import ErrorCode


class SupportErrorCode(ErrorCode):
    EMPTY_TEXT = "empty_text", 422, _("%(field)s不能为空")
    TEXT_TOO_LONG = "text_too_long", 422, _("%(field)s最多 %(limit)s 个字符")
    UNKNOWN_ORDER = "unknown_order", 404, _("你的账户里没有这个订单号")
    BAD_CATEGORY = "bad_category", 422, _("工单类型须为以下之一:%(choices)s")
    UNKNOWN_TICKET = "unknown_ticket", 404, _("没有这个工单")
    TICKET_CLOSED = "ticket_closed", 409, _("这个工单已关闭,请新建工单或投诉")
    TICKET_DECIDED = "ticket_decided", 409, _("这个工单已处理(%(status)s)")
    AGENTS_ONLY = "agents_only", 403, _("只有客服可以处理工单")
    FINANCE_ROLE_REQUIRED = "finance_role_required", 403, _("高于政策报价的退款需要财务角色")
    # A refund above the policy is its own choice on the approval form (kameng/support/services.py, approve).
    AMOUNT_WITHOUT_ABOVE_POLICY = (
        "amount_without_above_policy",
        422,
        _("填写退款金额即是高于政策退款:请勾选“高于政策退款”并写明理由,或清空金额按报价退款"),
    )
    BAD_REFUND_AMOUNT = "bad_refund_amount", 422, _("高于政策的退款金额须为大于 0 的整数(分)")
    QUOTE_REQUIRED = "quote_required", 422, _("高于政策的退款须对照会员当前的退款报价:请刷新工单页面后再提交")
    ALREADY_CANCELLED = (
        "already_cancelled",
        409,
        _("会员已经退订(回执 %(receipt_no)s),高于政策的退款没有执行"),
    )
    ABOVE_POLICY_NEEDS_IMMEDIATE = (
        "above_policy_needs_immediate",
        422,
        _("高于政策的退款只能用于退订会员 / 退款工单,并选择“立即退订并退款”"),
    )
    BAD_ABOUT = "bad_about", 422, _("投诉对象须为以下之一:%(choices)s")
    UNKNOWN_REFERENCE = "unknown_reference", 404, _("你的账户里没有这个编号")
    STAFF_ONLY = "staff_only", 403, _("只有工作人员可以答复投诉")
    UNKNOWN_COMPLAINT = "unknown_complaint", 404, _("没有这个投诉")
    ALREADY_ANSWERED = "already_answered", 409, _("这个投诉已经答复过")
    ATTACHMENT_TOO_LARGE = "attachment_too_large", 422, _("截图最多 %(limit)s MB")
    ATTACHMENT_NOT_IMAGE = "attachment_not_image", 422, _("截图须为 PNG、JPEG 或 WebP 图片")
    # growth: what one member may make support store (support.limits, docs/security.md)
    ATTACHMENT_TOO_MANY_PIXELS = (
        "attachment_too_many_pixels",
        422,
        _("截图最多 %(limit)s 万像素(%(megapixels)s MP),请缩小后再上传"),
    )
    TOO_MANY_TICKETS = (
        "too_many_tickets",
        429,
        _("提交工单太频繁:每 %(minutes)s 分钟最多 %(limit)s 个,请 %(wait)s 分钟后再试"),
    )
    TOO_MANY_REPLIES = (
        "too_many_replies",
        429,
        _("留言太频繁:每 %(minutes)s 分钟最多 %(limit)s 条,请 %(wait)s 分钟后再试"),
    )
    TOO_MANY_COMPLAINTS = (
        "too_many_complaints",
        429,
        _("提交投诉太频繁:每 %(minutes)s 分钟最多 %(limit)s 个,请 %(wait)s 分钟后再试"),
    )
    # A state, not a rate: 409, no Retry-After; the way on is an answer to (or the close of) an open ticket.
    TOO_MANY_OPEN_TICKETS = (
        "too_many_open_tickets",
        409,
        _("你已有 %(count)s 个未处理完的工单(最多 %(limit)s 个):请在已有的工单里补充,或等客服处理后再提交"),
    )
    ATTACHMENT_QUOTA = (
        "attachment_quota",
        429,
        _("30 天内最多上传 %(limit)s MB 截图,你已上传 %(used)s MB:请不带截图提交,或 %(days)s 天后再上传"),
    )
    # One screenshot larger than the whole 30-day quota: waiting never makes room for it, so 422, not a limit.
    ATTACHMENT_OVER_QUOTA = (
        "attachment_over_quota",
        422,
        _("这张截图大于 30 天内可上传的截图总量(%(limit)s MB):请缩小后再上传,或不带截图提交"),
    )
