from django.urls import path

from kameng.payments import views

app_name = "payments"
urlpatterns = [path("notify/<slug:channel>/", views.notify, name="notify")]
