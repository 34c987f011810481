from django.urls import path

from kameng.payments import views

app_name = "payments"
urlpatterns = [
    path("notify/<slug:channel>/", views.notify, name="notify"),
    # A channel's second notification protocol: WeChat 委托代扣's v2 XML (sign, terminate, charge results).
    path("notify/<slug:channel>/<slug:endpoint>/", views.notify, name="notify-endpoint"),
]
