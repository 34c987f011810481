from django.contrib import admin
from django.urls import include, path

from config.api import api
from kameng.core.health import healthz, readyz
from kameng.core.metrics import metrics_view

admin.site.site_header = "卡盟 Kameng"
admin.site.site_title = "卡盟 Kameng"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("accounts/", include("kameng.accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("payments/", include("kameng.payments.urls")),
    path("sandbox/", include("kameng.sandbox.urls")),
    path("orders/", include("kameng.orders.urls")),
    path("member/", include("kameng.membership.urls")),
    path("notifications/", include("kameng.notifications.urls")),
    path("support/", include("kameng.support.urls")),
    path("help/", include("kameng.helpcenter.urls")),
    path("console/", include("kameng.console.urls")),
    path("", include("kameng.catalog.urls")),
]
