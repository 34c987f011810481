from django.contrib import admin

from kameng.core.admin_roles import ReadOnlyRoleAdmin, RoleAdmin
from kameng.core.roles import Role
from kameng.membership.models import (
    Agreement,
    Cancellation,
    Charge,
    ConsentRecord,
    Membership,
    Plan,
    Reminder,
)
from kameng.membership.selectors import cancellation_insight, disclosure


@admin.register(Plan)
class PlanAdmin(RoleAdmin):
    list_display = [
        "name",
        "code",
        "period",
        "price_fen",
        "discount_percent",
        "refund_window_hours",
        "is_active",
    ]
    list_filter = ["period", "is_active"]
    search_fields = ["name", "code"]
    readonly_fields = ["disclosure_preview"]

    @admin.display(description="购买页披露预览 / disclosure preview (auto-renew on, saved values)")
    def disclosure_preview(self, plan: Plan) -> str:
        from django.utils.html import format_html_join

        if plan.pk is None:
            return "—"
        shown = disclosure(plan=plan, channel="alipay", auto_renew=plan.renews)
        return format_html_join("", "<p><strong>{}</strong></p>", ((line,) for line in shown["text"]))


class _MemberRecordAdmin(ReadOnlyRoleAdmin):
    view_roles = (Role.OPERATOR, Role.SUPPORT, Role.FINANCE)


@admin.register(Membership)
class MembershipAdmin(_MemberRecordAdmin):
    list_display = ["user", "plan", "status", "auto_renew", "channel", "current_period_end", "next_charge_at"]
    list_filter = ["status", "auto_renew", "channel", "plan"]
    search_fields = ["user__username"]
    raw_id_fields = ["user"]


@admin.register(Agreement)
class AgreementAdmin(_MemberRecordAdmin):
    list_display = [
        "external_no",
        "channel",
        "channel_agreement_no",
        "status",
        "single_amount_fen",
        "signed_at",
    ]
    list_filter = ["channel", "status"]
    search_fields = ["external_no", "channel_agreement_no", "membership__user__username"]


@admin.register(ConsentRecord)
class ConsentRecordAdmin(_MemberRecordAdmin):
    list_display = ["user", "plan_code", "price_fen", "channel", "given_at", "ip", "terms_version"]
    search_fields = ["user__username", "external_agreement_no"]


@admin.register(Charge)
class ChargeAdmin(_MemberRecordAdmin):
    list_display = ["membership", "period_index", "amount_fen", "status", "attempts", "succeeded_at"]
    list_filter = ["status", "is_renewal"]


@admin.register(Reminder)
class ReminderAdmin(_MemberRecordAdmin):
    list_display = ["membership", "period_index", "days_before", "charge_at", "amount_fen", "sent_at"]


@admin.register(Cancellation)
class CancellationAdmin(_MemberRecordAdmin):
    """Receipts, and above the list the cancellation insight: reasons and modes per plan and per week."""

    list_display = ["receipt_no", "membership", "mode", "source", "reason", "received_at", "refund_fen"]
    list_filter = ["mode", "source", "reason", "membership__plan"]
    search_fields = ["receipt_no", "membership__user__username"]
    date_hierarchy = "received_at"
    change_list_template = "admin/membership/cancellation/change_list.html"

    def changelist_view(self, request, extra_context=None):
        extra = {**(extra_context or {}), "insight": cancellation_insight()}
        return super().changelist_view(request, extra_context=extra)
