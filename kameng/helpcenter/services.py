"""The help centre's default content: the official ways out, written once, kept by operators in the admin."""

from kameng.helpcenter.models import ActionEntry, Article

ACTIONS = [
    # code, title, url, keywords, pinned_for
    ("cancel-membership", "退订会员", "/member/cancel/", "退订 取消会员 退会 unsubscribe cancel", "cancel"),
    ("auto-renew-off", "关闭自动续费", "/member/cancel/", "自动续费 关闭 不想续费 停止续费", ""),
    ("refund", "申请退款", "/member/cancel/", "退款 退钱 refund", ""),
    ("ticket", "提交工单", "/support/tickets/new/", "工单 客服 人工 ticket support", "ticket"),
]
ARTICLES = [
    (
        "how-to-cancel",
        "如何退订会员",
        "退订 取消会员 关闭自动续费 unsubscribe cancel",
        "两步完成:会员中心 → 退订会员 → 确认。可以选择“关闭自动续费”(本期结束后不再扣款,会员保留到期末)"
        "或“立即退订并退款”(立即结束,按规则退款)。也可以提交“退订会员”工单,或在支付宝(我的 → 设置 → 支付设置 → "
        "免密支付/自动扣款)、微信(我 → 服务 → 钱包 → 支付设置 → 自动续费)中关闭自动续费。",
    ),
    (
        "auto-renew",
        "自动续费说明",
        "自动续费 扣款 提醒 上限",
        "自动续费需要你在购买时单独勾选同意。每次扣款前 7 天和 3 天(年卡另加 30 天)会通过站内信和邮件提醒,"
        "注明扣款日期、金额和退订链接。每次扣款不超过签约时的价格上限。",
    ),
    (
        "refunds",
        "退款规则",
        "退款 退钱 按天退款 refund",
        "立即退订时按本期剩余天数比例退款,扣除本期已享受的会员优惠,不低于 0。扣款后 48 小时内且未使用会员优惠,"
        "全额退款。永久会员超过 48 小时不退款,除非套餐注明了违约金比例。退款原路退回。",
    ),
    (
        "complaints",
        "投诉与维权",
        "投诉 维权 12315 证据",
        "对处理结果不满意,可以在工单页面提交投诉,我们在 3 个工作日内答复。也可以向全国 12315 平台"
        "(https://www.12315.cn)投诉。请准备:账户名、订单号和回执号、扣款截图,以及会员中心可下载的证据包。",
    ),
]


def ensure_default_entries(*, article_model=Article, action_model=ActionEntry) -> None:
    """Creates the default actions and articles if missing; operators' edits are never overwritten.
    (The models are parameters so the data migration can pass its historical ones.)"""
    for order, (code, title, url, keywords, pinned_for) in enumerate(ACTIONS):
        action_model.objects.get_or_create(
            code=code,
            defaults={
                "title": title,
                "url": url,
                "keywords": keywords,
                "pinned_for": pinned_for,
                "sort_order": order,
            },
        )
    for order, (slug, title, keywords, body) in enumerate(ARTICLES):
        article_model.objects.get_or_create(
            slug=slug, defaults={"title": title, "keywords": keywords, "body": body, "sort_order": order}
        )
