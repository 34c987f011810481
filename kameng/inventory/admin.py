from django.conf import settings
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from kameng.core.admin_roles import ReadOnlyRoleAdmin
from kameng.core.errors import DomainError
from kameng.inventory import services
from kameng.inventory.forms import ImportForm
from kameng.inventory.models import CardKey, ImportBatch


@admin.register(CardKey)
class CardKeyAdmin(ReadOnlyRoleAdmin):
    # The secret is never shown here: stock is managed by count and status, reveals go through the order.
    list_display = ["id", "product", "status", "order", "batch", "reserved_at", "sold_at"]
    list_filter = ["status", "product"]
    exclude = ["secret_encrypted", "secret_digest"]


@admin.register(ImportBatch)
class ImportBatchAdmin(ReadOnlyRoleAdmin):
    view_roles = ReadOnlyRoleAdmin.view_roles
    list_display = [
        "id",
        "product",
        "source",
        "created_at",
        "created_by",
        "imported",
        "duplicates",
        "malformed",
    ]
    readonly_fields = ["report"]

    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="inventory_import"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "import_url": reverse("admin:inventory_import")}
        return super().changelist_view(request, extra_context)

    def import_view(self, request):
        """Paste lines or upload a text/CSV file; the report lists every rejected line and why."""
        if not self.has_view_permission(request):
            return redirect("admin:index")
        form = ImportForm(request.POST or None, request.FILES or None)
        batch = None
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data.get("file")
            try:
                if upload:
                    text = services.decode_upload(upload.read(settings.KAMENG_IMPORT_MAX_BYTES + 1))
                    source, csv_format = ImportBatch.Source.ADMIN_FILE, upload.name.lower().endswith(".csv")
                else:
                    text, source, csv_format = (
                        form.cleaned_data["lines"],
                        ImportBatch.Source.ADMIN_PASTE,
                        False,
                    )
                batch = services.import_card_keys(
                    product=form.cleaned_data["product"],
                    text=text,
                    source=source,
                    actor=request.user,
                    csv_format=csv_format,
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(
                    request,
                    f"导入 {batch.imported} 条,重复 {batch.duplicates} 条,格式错误 {batch.malformed} 条",
                )
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "batch": batch,
            "title": "导入卡密 Import card keys",
            "opts": self.model._meta,
        }
        return TemplateResponse(
            request,
            "inventory/import.html",
            context,
            status=200 if form.is_valid() or request.method == "GET" else 400,
        )
