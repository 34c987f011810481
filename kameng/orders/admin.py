from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from kameng.core.admin_roles import ReadOnlyRoleAdmin
from kameng.core.errors import DomainError
from kameng.core.roles import Role
from kameng.orders import selectors, services
from kameng.orders.models import FulfilmentQueueEntry, Order


@admin.register(Order)
class OrderAdmin(ReadOnlyRoleAdmin):
    view_roles = (Role.OPERATOR, Role.SUPPORT, Role.FINANCE)
    list_display = [
        "order_no",
        "user",
        "product",
        "quantity",
        "amount_fen",
        "channel",
        "status",
        "created_at",
    ]
    list_filter = ["status", "channel"]
    search_fields = ["order_no", "user__username"]


class FulfilForm(forms.Form):
    note = forms.CharField(label="发货内容 What was delivered", widget=forms.Textarea(attrs={"rows": 4}))


@admin.register(FulfilmentQueueEntry)
class FulfilmentQueueAdmin(ReadOnlyRoleAdmin):
    """Manual orders waiting for an operator; VIP orders first (优先发货)."""

    view_roles = (Role.OPERATOR,)
    list_display = ["order_no", "priority", "product", "quantity", "user", "paid_at", "fulfil_link"]

    @admin.display(description="操作")
    def fulfil_link(self, obj):
        return format_html(
            '<a href="{}">发货 fulfil</a>', reverse("admin:orders_fulfil", args=[obj.order_no])
        )

    def get_queryset(self, request):
        return selectors.fulfilment_queue()

    def get_urls(self):
        return [
            path(
                "<slug:order_no>/fulfil/", self.admin_site.admin_view(self.fulfil_view), name="orders_fulfil"
            ),
            *super().get_urls(),
        ]

    def fulfil_view(self, request, order_no: str):
        if not self.has_view_permission(request):
            return redirect("admin:index")
        form = FulfilForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.fulfil_order(order_no=order_no, note=form.cleaned_data["note"], actor=request.user)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"{order_no} 已发货")
                return redirect("admin:orders_fulfilmentqueueentry_changelist")
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": f"发货 {order_no}",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "orders/fulfil.html", context)
